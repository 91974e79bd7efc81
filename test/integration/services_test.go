package integration

import (
	"fmt"
	"net"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceAllocation(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	svcs := cs.CoreV1().Services("default")
	_, cidr, _ := net.ParseCIDR("10.43.0.0/16")
	// Concurrent creates never share an IP.
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i)},
				Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[s.Spec.ClusterIP] || !cidr.Contains(net.ParseIP(s.Spec.ClusterIP)) {
				errs <- fmt.Errorf("bad or duplicate IP %s", s.Spec.ClusterIP)
			}
			seen[s.Spec.ClusterIP] = true
			if s.Spec.Ports[0].Protocol != corev1.ProtocolTCP || s.Spec.Ports[0].TargetPort.IntValue() != 80 || s.Spec.Type != corev1.ServiceTypeClusterIP {
				errs <- fmt.Errorf("defaults missing: %+v", s.Spec)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A requested IP in use is 422.
	_, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dup"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("taken IP: %v", err)
	}
	// NodePort allocation, and the port is freed on delete.
	np, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}, metav1.CreateOptions{})
	if err != nil || np.Spec.Ports[0].NodePort != 30080 {
		t.Fatalf("nodeport: %v", err)
	}
	_, err = svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np2"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("duplicate node port: %v", err)
	}
	if err := svcs.Delete(ctx, "np", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np2"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("node port not released: %v", err)
	}
	// Headless services get no IP.
	h, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless"}, Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if err != nil || h.Spec.ClusterIP != "None" {
		t.Fatalf("headless: %v %+v", err, h)
	}
	// ClusterIP is immutable.
	s0, _ := svcs.Get(ctx, "s0", metav1.GetOptions{})
	s0.Spec.ClusterIP = "10.43.9.9"
	if _, err := svcs.Update(ctx, s0, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing clusterIP: %v", err)
	}
}
