package servicelb_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/servicelb"
)

// startController runs the controller against client and returns a
// function that stops it (also called when the test ends).
func startController(t *testing.T, client kubernetes.Interface, opts servicelb.Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := servicelb.New(ctx, client, f.Core().V1().Services(), f.Core().V1().Nodes(), opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Start: %v", err)
			}
			f.Shutdown()
		})
	}
	t.Cleanup(stop)
	return stop
}

// createNode registers a node with the given readiness and addresses
// (type, address pairs).
func createNode(t *testing.T, client kubernetes.Interface, name string, ready bool, addrs ...string) {
	t.Helper()
	ctx := controllertest.Context(t)
	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	for i := 0; i < len(addrs); i += 2 {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeAddressType(addrs[i]), Address: addrs[i+1]})
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: readyStatus(ready)}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
}

func readyStatus(ready bool) corev1.ConditionStatus {
	if ready {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

// updateNode applies mutate to node name (status, then spec).
func updateNode(t *testing.T, client kubernetes.Interface, name string, mutate func(*corev1.Node)) {
	t.Helper()
	ctx := controllertest.Context(t)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(n)
		if n, err = client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
		mutate(n)
		_, err = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update node %s: %v", name, err)
	}
}

func createService(t *testing.T, client kubernetes.Interface, ns, name string, typ corev1.ServiceType, mutate func(*corev1.Service)) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	if mutate != nil {
		mutate(svc)
	}
	if _, err := client.CoreV1().Services(ns).Create(controllertest.Context(t), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
}

// setType changes a Service's type, dropping its node ports when it
// becomes a ClusterIP Service.
func setType(t *testing.T, client kubernetes.Interface, ns, name string, typ corev1.ServiceType) {
	t.Helper()
	ctx := controllertest.Context(t)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		svc.Spec.Type = typ
		if typ == corev1.ServiceTypeClusterIP {
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = 0
			}
			svc.Spec.AllocateLoadBalancerNodePorts = nil
			svc.Spec.ExternalTrafficPolicy = ""
			svc.Spec.LoadBalancerIP = ""
		}
		_, err = client.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("service %s to %s: %v", name, typ, err)
	}
}

// waitIngress waits until the Service's ingress is exactly ips (in
// order), each with ipMode VIP.
func waitIngress(t *testing.T, client kubernetes.Interface, ns, name string, ips ...string) {
	t.Helper()
	controllertest.Eventually(t, 10*time.Second, func() error {
		svc, err := client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var got []string
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IPMode == nil || *ing.IPMode != corev1.LoadBalancerIPModeVIP {
				return controllertest.Errorf("service %s: ingress %s has ipMode %v", name, ing.IP, ing.IPMode)
			}
			got = append(got, ing.IP)
		}
		if !slices.Equal(got, ips) {
			return controllertest.Errorf("service %s: ingress %v, want %v", name, got, ips)
		}
		return nil
	})
}

// ingressOf is the Service's ingress addresses now.
func ingressOf(t *testing.T, client kubernetes.Interface, ns, name string) []string {
	t.Helper()
	svc, err := client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		out = append(out, ing.IP)
	}
	return out
}

// waitEvent waits for an event about the Service with reason, whose
// message contains substr.
func waitEvent(t *testing.T, client kubernetes.Interface, ns, name, reason, substr string) {
	t.Helper()
	controllertest.Eventually(t, 10*time.Second, func() error {
		evs, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "Service" && e.InvolvedObject.Name == name && e.Reason == reason &&
				strings.Contains(e.Message, substr) {
				return nil
			}
		}
		return controllertest.Errorf("no %s event with %q for service %s among %d", reason, substr, name, len(evs.Items))
	})
}

func TestNodeIPsMode(t *testing.T) {
	client, ns := controllertest.Start(t)
	createNode(t, client, "a", true, "InternalIP", "10.0.0.1", "Hostname", "a")
	createNode(t, client, "b", true, "InternalIP", "10.0.0.2", "ExternalIP", "203.0.113.2")
	createNode(t, client, "c", false, "InternalIP", "10.0.0.3")
	startController(t, client, servicelb.Options{})

	createService(t, client, ns, "web", corev1.ServiceTypeLoadBalancer, nil)
	createService(t, client, ns, "other", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
		s.Spec.LoadBalancerClass = ptr.To("example.com/other")
	})
	createService(t, client, ns, "internal", corev1.ServiceTypeClusterIP, nil)
	waitIngress(t, client, ns, "web", "10.0.0.1", "203.0.113.2")
	waitEvent(t, client, ns, "web", servicelb.EventEnsuredLoadBalancer, "")

	// A node going NotReady leaves the list.
	updateNode(t, client, "a", func(n *corev1.Node) {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}
	})
	waitIngress(t, client, ns, "web", "203.0.113.2")
	// No node Ready and schedulable: every node.
	updateNode(t, client, "b", func(n *corev1.Node) { n.Spec.Unschedulable = true })
	waitIngress(t, client, ns, "web", "10.0.0.1", "10.0.0.3", "203.0.113.2")
	// A new Ready node is the only one again.
	createNode(t, client, "d", true, "InternalIP", "10.0.0.4")
	waitIngress(t, client, ns, "web", "10.0.0.4")

	// Becoming ClusterIP clears the status.
	setType(t, client, ns, "web", corev1.ServiceTypeClusterIP)
	waitIngress(t, client, ns, "web")
	waitEvent(t, client, ns, "web", servicelb.EventDeletedLoadBalancer, "")

	// Another implementation's Service and a ClusterIP one are left alone.
	time.Sleep(200 * time.Millisecond)
	if got := ingressOf(t, client, ns, "other"); len(got) != 0 {
		t.Errorf("service with a loadBalancerClass got ingress %v", got)
	}
	if got := ingressOf(t, client, ns, "internal"); len(got) != 0 {
		t.Errorf("ClusterIP service got ingress %v", got)
	}
}

func TestPoolMode(t *testing.T) {
	client, ns := controllertest.Start(t)
	createNode(t, client, "a", true, "InternalIP", "10.0.0.1")
	opts := servicelb.Options{Pool: []netip.Prefix{netip.MustParsePrefix("192.168.100.0/30")}} // .1 and .2
	stop := startController(t, client, opts)

	lbIP := func(ip string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip }
	}
	createService(t, client, ns, "asks", corev1.ServiceTypeLoadBalancer, lbIP("192.168.100.2"))
	waitIngress(t, client, ns, "asks", "192.168.100.2")
	createService(t, client, ns, "first", corev1.ServiceTypeLoadBalancer, nil)
	waitIngress(t, client, ns, "first", "192.168.100.1")
	waitEvent(t, client, ns, "first", servicelb.EventEnsuredLoadBalancer, "")

	// The pool is empty: the next Service stays pending, with a warning.
	createService(t, client, ns, "third", corev1.ServiceTypeLoadBalancer, nil)
	waitEvent(t, client, ns, "third", servicelb.EventAllocationFailed, "no available IPs")
	createService(t, client, ns, "outside", corev1.ServiceTypeLoadBalancer, lbIP("10.9.9.9"))
	waitEvent(t, client, ns, "outside", servicelb.EventAllocationFailed, "not in the address pool")
	createService(t, client, ns, "taken", corev1.ServiceTypeLoadBalancer, lbIP("192.168.100.2"))
	waitEvent(t, client, ns, "taken", servicelb.EventAllocationFailed, "already in use")
	for _, name := range []string{"third", "outside", "taken"} {
		if got := ingressOf(t, client, ns, name); len(got) != 0 {
			t.Errorf("service %s got %v from an exhausted pool", name, got)
		}
	}

	// Deleting a Service frees its address for a waiting one.
	if err := client.CoreV1().Services(ns).Delete(context.Background(), "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, client, ns, "third", "192.168.100.1")
	// A type change frees the address too: the Service asking for it gets it.
	setType(t, client, ns, "asks", corev1.ServiceTypeClusterIP)
	waitIngress(t, client, ns, "asks")
	waitIngress(t, client, ns, "taken", "192.168.100.2")
	if got := ingressOf(t, client, ns, "outside"); len(got) != 0 {
		t.Errorf("service asking for an address outside the pool got %v", got)
	}

	// A restarted controller takes the allocations back from the status
	// and hands out nothing twice.
	stop()
	startController(t, client, opts)
	createService(t, client, ns, "late", corev1.ServiceTypeLoadBalancer, nil)
	waitEvent(t, client, ns, "late", servicelb.EventAllocationFailed, "no available IPs")
	waitIngress(t, client, ns, "third", "192.168.100.1")
	waitIngress(t, client, ns, "taken", "192.168.100.2")
	if got := ingressOf(t, client, ns, "late"); len(got) != 0 {
		t.Errorf("service created after restart got %v from an exhausted pool", got)
	}
}
