package endpointslice_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/endpointslice"
)

// startController runs the endpoint slice controller against client
// until the test ends.
func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := endpointslice.New(ctx, client, f.Core().V1().Services(), f.Core().V1().Pods(),
		f.Discovery().V1().EndpointSlices(),
		endpointslice.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
		f.Shutdown()
	})
}

func newService(ns, name string, targetPort intstr.IntOrString) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: targetPort}},
		},
	}
}

// runPod creates pod name labelled app=app with a container port named
// "http" on containerPort, binds it to node-1 and reports it Running with
// ip, Ready when ready.
func runPod(t *testing.T, client kubernetes.Interface, ns, name, app, ip string, containerPort int32, ready bool) *corev1.Pod {
	t.Helper()
	ctx := controllertest.Context(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: containerPort, Protocol: corev1.ProtocolTCP}}}}},
	}
	pod, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods(ns).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return setStatus(t, client, ns, name, ip, ready)
}

func setStatus(t *testing.T, client kubernetes.Interface, ns, name, ip string, ready bool) *corev1.Pod {
	t.Helper()
	ctx := controllertest.Context(t)
	pod, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	pod, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

func listSlices(client kubernetes.Interface, ns, svc string) ([]discovery.EndpointSlice, error) {
	l, err := client.DiscoveryV1().EndpointSlices(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: discovery.LabelServiceName + "=" + svc})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// endpointsByPod flattens the slices into pod name → endpoint, failing
// on a pod listed twice.
func endpointsByPod(slices []discovery.EndpointSlice) (map[string]discovery.Endpoint, error) {
	out := map[string]discovery.Endpoint{}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.TargetRef == nil {
				return nil, fmt.Errorf("endpoint %v without targetRef", ep.Addresses)
			}
			if _, dup := out[ep.TargetRef.Name]; dup {
				return nil, fmt.Errorf("pod %s listed twice", ep.TargetRef.Name)
			}
			out[ep.TargetRef.Name] = ep
		}
	}
	return out, nil
}

func TestReadyPods(t *testing.T) {
	client, ns := controllertest.Start(t)
	startController(t, client)
	ctx := controllertest.Context(t)

	svc, err := client.CoreV1().Services(ns).Create(ctx, newService(ns, "web", intstr.FromInt32(8080)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		runPod(t, client, ns, fmt.Sprintf("web-%d", i), "web", fmt.Sprintf("10.0.0.%d", i+1), 8080, true)
	}
	// A pod the selector does not match stays out.
	runPod(t, client, ns, "other", "other", "10.0.1.1", 8080, true)

	controllertest.Eventually(t, 10*time.Second, func() error {
		slices, err := listSlices(client, ns, "web")
		if err != nil {
			return err
		}
		if len(slices) != 1 {
			return fmt.Errorf("%d slices, want 1", len(slices))
		}
		s := slices[0]
		if s.AddressType != discovery.AddressTypeIPv4 || s.Labels[discovery.LabelManagedBy] != endpointslice.ManagedBy ||
			s.GenerateName != "web-" {
			return fmt.Errorf("slice meta: %v %v %q", s.AddressType, s.Labels, s.GenerateName)
		}
		ref := metav1.GetControllerOf(&s)
		if ref == nil || ref.UID != svc.UID || ref.Kind != "Service" {
			return fmt.Errorf("controller ref %v", ref)
		}
		if len(s.Ports) != 1 || *s.Ports[0].Port != 8080 || *s.Ports[0].Name != "web" || *s.Ports[0].Protocol != corev1.ProtocolTCP {
			return fmt.Errorf("ports %v", s.Ports)
		}
		eps, err := endpointsByPod(slices)
		if err != nil {
			return err
		}
		if len(eps) != 3 {
			return fmt.Errorf("%d endpoints, want 3", len(eps))
		}
		for i := range 3 {
			ep, ok := eps[fmt.Sprintf("web-%d", i)]
			if !ok {
				return fmt.Errorf("web-%d missing", i)
			}
			c := ep.Conditions
			if !*c.Ready || !*c.Serving || *c.Terminating || ep.NodeName == nil || *ep.NodeName != "node-1" ||
				ep.Addresses[0] != fmt.Sprintf("10.0.0.%d", i+1) {
				return fmt.Errorf("endpoint %+v", ep)
			}
		}
		return nil
	})
	controllertest.Eventually(t, 10*time.Second, func() error {
		e, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(e.Subsets) != 1 || len(e.Subsets[0].Addresses) != 3 || len(e.Subsets[0].NotReadyAddresses) != 0 ||
			len(e.Subsets[0].Ports) != 1 || e.Subsets[0].Ports[0].Port != 8080 {
			return fmt.Errorf("subsets %+v", e.Subsets)
		}
		return nil
	})

	// web-1 stops being ready.
	setStatus(t, client, ns, "web-1", "10.0.0.2", false)
	controllertest.Eventually(t, 10*time.Second, func() error {
		slices, err := listSlices(client, ns, "web")
		if err != nil {
			return err
		}
		eps, err := endpointsByPod(slices)
		if err != nil {
			return err
		}
		ep := eps["web-1"]
		if ep.Conditions.Ready == nil || *ep.Conditions.Ready || *ep.Conditions.Serving {
			return fmt.Errorf("web-1 conditions %+v", ep.Conditions)
		}
		if !*eps["web-0"].Conditions.Ready {
			return fmt.Errorf("web-0 not ready")
		}
		return nil
	})
	controllertest.Eventually(t, 10*time.Second, func() error {
		e, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(e.Subsets) != 1 || len(e.Subsets[0].Addresses) != 2 || len(e.Subsets[0].NotReadyAddresses) != 1 ||
			e.Subsets[0].NotReadyAddresses[0].IP != "10.0.0.2" {
			return fmt.Errorf("subsets %+v", e.Subsets)
		}
		return nil
	})

	// A relabelled pod leaves the service.
	p, err := client.CoreV1().Pods(ns).Get(ctx, "web-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["app"] = "gone"
	if _, err := client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 10*time.Second, func() error {
		slices, err := listSlices(client, ns, "web")
		if err != nil {
			return err
		}
		eps, err := endpointsByPod(slices)
		if err != nil {
			return err
		}
		if _, ok := eps["web-2"]; ok || len(eps) != 2 {
			return fmt.Errorf("endpoints %v", eps)
		}
		return nil
	})
}

func TestNamedTargetPort(t *testing.T) {
	client, ns := controllertest.Start(t)
	startController(t, client)
	ctx := controllertest.Context(t)
	if _, err := client.CoreV1().Services(ns).Create(ctx, newService(ns, "named", intstr.FromString("http")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runPod(t, client, ns, "a", "named", "10.0.0.1", 8080, true)
	runPod(t, client, ns, "b", "named", "10.0.0.2", 9090, true)

	controllertest.Eventually(t, 10*time.Second, func() error {
		slices, err := listSlices(client, ns, "named")
		if err != nil {
			return err
		}
		got := map[string]int32{}
		for _, s := range slices {
			if len(s.Ports) != 1 {
				return fmt.Errorf("slice %s ports %v", s.Name, s.Ports)
			}
			for _, ep := range s.Endpoints {
				got[ep.TargetRef.Name] = *s.Ports[0].Port
			}
		}
		if got["a"] != 8080 || got["b"] != 9090 || len(got) != 2 {
			return fmt.Errorf("resolved ports %v", got)
		}
		return nil
	})
	controllertest.Eventually(t, 10*time.Second, func() error {
		e, err := client.CoreV1().Endpoints(ns).Get(ctx, "named", metav1.GetOptions{})
		if err != nil {
			return err
		}
		got := map[string]int32{}
		for _, s := range e.Subsets {
			for _, a := range s.Addresses {
				got[a.TargetRef.Name] = s.Ports[0].Port
			}
		}
		if got["a"] != 8080 || got["b"] != 9090 || len(got) != 2 {
			return fmt.Errorf("endpoints ports %v", got)
		}
		return nil
	})
}

func TestManySlices(t *testing.T) {
	client, ns := controllertest.Start(t)
	startController(t, client)
	ctx := controllertest.Context(t)
	if _, err := client.CoreV1().Services(ns).Create(ctx, newService(ns, "big", intstr.FromInt32(80)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A slice someone else manages is left alone.
	foreign := &discovery.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "foreign", Namespace: ns, Labels: map[string]string{discovery.LabelServiceName: "big"}},
		AddressType: discovery.AddressTypeIPv4,
	}
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		runPod(t, client, ns, fmt.Sprintf("big-%03d", i), "big", fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), 80, true)
	}
	controllertest.Eventually(t, 30*time.Second, func() error {
		slices, err := listSlices(client, ns, "big")
		if err != nil {
			return err
		}
		var sizes []int
		var managed []discovery.EndpointSlice
		for _, s := range slices {
			if s.Labels[discovery.LabelManagedBy] == endpointslice.ManagedBy {
				managed = append(managed, s)
				sizes = append(sizes, len(s.Endpoints))
			}
		}
		sort.Ints(sizes)
		if len(sizes) != 2 || sizes[1] > endpointslice.MaxEndpointsPerSlice {
			return fmt.Errorf("slice sizes %v", sizes)
		}
		eps, err := endpointsByPod(managed)
		if err != nil {
			return err
		}
		if len(eps) != 150 {
			return fmt.Errorf("%d endpoints, want 150", len(eps))
		}
		return nil
	})
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Get(ctx, "foreign", metav1.GetOptions{}); err != nil {
		t.Errorf("foreign slice: %v", err)
	}
}

func TestServiceDeleted(t *testing.T) {
	client, ns := controllertest.Start(t)
	startController(t, client)
	ctx := controllertest.Context(t)
	svc, err := client.CoreV1().Services(ns).Create(ctx, newService(ns, "tmp", intstr.FromInt32(80)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runPod(t, client, ns, "tmp-0", "tmp", "10.0.0.1", 80, true)
	var slice discovery.EndpointSlice
	controllertest.Eventually(t, 10*time.Second, func() error {
		slices, err := listSlices(client, ns, "tmp")
		if err != nil {
			return err
		}
		if len(slices) != 1 || len(slices[0].Endpoints) != 1 {
			return fmt.Errorf("slices %v", slices)
		}
		slice = slices[0]
		_, err = client.CoreV1().Endpoints(ns).Get(ctx, "tmp", metav1.GetOptions{})
		return err
	})
	if err := client.CoreV1().Services(ns).Delete(ctx, "tmp", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The Endpoints object goes; the slice is left to the garbage
	// collector through its controller reference.
	controllertest.Eventually(t, 10*time.Second, func() error {
		_, err := client.CoreV1().Endpoints(ns).Get(ctx, "tmp", metav1.GetOptions{})
		if err == nil {
			return fmt.Errorf("endpoints still there")
		}
		return nil
	})
	if ref := metav1.GetControllerOf(&slice); ref == nil || ref.UID != svc.UID {
		t.Fatalf("slice controller ref %v, want service %s", ref, svc.UID)
	}
	// The controller no longer manages it: pod changes leave it as is.
	setStatus(t, client, ns, "tmp-0", "10.0.0.1", false)
	time.Sleep(time.Second)
	got, err := client.DiscoveryV1().EndpointSlices(ns).Get(ctx, slice.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != slice.ResourceVersion {
		t.Errorf("slice changed after its service was deleted")
	}
}
