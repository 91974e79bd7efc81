package nodeipam_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/nodeipam"
)

// startController runs the node IPAM controller against client and
// returns a function that stops it (also called when the test ends).
func startController(t *testing.T, client kubernetes.Interface, opts nodeipam.Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := nodeipam.New(ctx, client, f.Core().V1().Nodes(), opts)
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

func createNode(t *testing.T, client kubernetes.Interface, name, podCIDR string) *corev1.Node {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
	n, err := client.CoreV1().Nodes().Create(controllertest.Context(t), n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	return n
}

// waitCIDR waits for node name to have a pod CIDR and returns it.
func waitCIDR(t *testing.T, client kubernetes.Interface, name string) string {
	t.Helper()
	var cidr string
	controllertest.Eventually(t, 20*time.Second, func() error {
		n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.PodCIDR == "" {
			return controllertest.Errorf("node %s has no podCIDR", name)
		}
		if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			return controllertest.Errorf("node %s: podCIDR %q, podCIDRs %v", name, n.Spec.PodCIDR, n.Spec.PodCIDRs)
		}
		cidr = n.Spec.PodCIDR
		return nil
	})
	return cidr
}

// checkSubnet fails unless cidr is a /24 inside 10.42.0.0/16.
func checkSubnet(t *testing.T, cidr string) {
	t.Helper()
	_, cluster, _ := net.ParseCIDR("10.42.0.0/16")
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatalf("bad CIDR %q: %v", cidr, err)
	}
	if ones, _ := n.Mask.Size(); ones != 24 || !ip.Equal(n.IP) || !cluster.Contains(ip) {
		t.Errorf("CIDR %s is not a /24 inside %s", cidr, cluster)
	}
}

func TestConcurrentNodesGetDistinctCIDRs(t *testing.T) {
	client, _ := controllertest.Start(t)
	startController(t, client, nodeipam.Options{})

	const count = 20
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			createNode(t, client, fmt.Sprintf("node-%d", i), "")
		}()
	}
	wg.Wait()
	seen := map[string]string{}
	for i := range count {
		name := fmt.Sprintf("node-%d", i)
		cidr := waitCIDR(t, client, name)
		checkSubnet(t, cidr)
		if other, dup := seen[cidr]; dup {
			t.Errorf("%s given to both %s and %s", cidr, other, name)
		}
		seen[cidr] = name
	}
	// Nothing changes afterwards: no node is patched twice.
	time.Sleep(500 * time.Millisecond)
	for cidr, name := range seen {
		if got := waitCIDR(t, client, name); got != cidr {
			t.Errorf("node %s: podCIDR changed from %s to %s", name, cidr, got)
		}
	}
}

func TestRestartKeepsAssignments(t *testing.T) {
	client, _ := controllertest.Start(t)
	stop := startController(t, client, nodeipam.Options{})
	before := map[string]string{}
	for i := range 3 {
		name := fmt.Sprintf("node-%d", i)
		createNode(t, client, name, "")
		before[name] = waitCIDR(t, client, name)
	}
	stop()

	startController(t, client, nodeipam.Options{})
	createNode(t, client, "late", "")
	late := waitCIDR(t, client, "late")
	checkSubnet(t, late)
	for name, cidr := range before {
		if got := waitCIDR(t, client, name); got != cidr {
			t.Errorf("node %s: podCIDR %s after restart, was %s", name, got, cidr)
		}
		if cidr == late {
			t.Errorf("new node got %s, already held by %s", late, name)
		}
	}
}

func TestDeletedNodeFreesCIDR(t *testing.T) {
	client, _ := controllertest.Start(t)
	ctx := controllertest.Context(t)
	startController(t, client, nodeipam.Options{})
	createNode(t, client, "a", "")
	a := waitCIDR(t, client, "a")
	createNode(t, client, "b", "")
	b := waitCIDR(t, client, "b")
	if a == b {
		t.Fatalf("a and b both got %s", a)
	}
	if err := client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The lowest free subnet is handed out first, so a's is reused.
	controllertest.Eventually(t, 10*time.Second, func() error {
		_, err := client.CoreV1().Nodes().Get(ctx, "a", metav1.GetOptions{})
		if err == nil {
			return controllertest.Errorf("node a still there")
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond) // let the delete reach the controller's cache
	createNode(t, client, "c", "")
	if c := waitCIDR(t, client, "c"); c != a {
		t.Errorf("node c got %s, want the freed %s", c, a)
	}
}

func TestPresetCIDRRespected(t *testing.T) {
	client, _ := controllertest.Start(t)
	// The lowest subnet is taken before the controller starts.
	createNode(t, client, "preset", "10.42.0.0/24")
	createNode(t, client, "outside", "192.168.7.0/24")
	startController(t, client, nodeipam.Options{})
	createNode(t, client, "fresh", "")
	fresh := waitCIDR(t, client, "fresh")
	if fresh == "10.42.0.0/24" {
		t.Errorf("fresh node got the preset subnet %s", fresh)
	}
	checkSubnet(t, fresh)
	if got := waitCIDR(t, client, "preset"); got != "10.42.0.0/24" {
		t.Errorf("preset node: podCIDR %s, want 10.42.0.0/24", got)
	}
	if got := waitCIDR(t, client, "outside"); got != "192.168.7.0/24" {
		t.Errorf("outside node: podCIDR %s, want 192.168.7.0/24", got)
	}
}

func TestRangeFullRecordsEvent(t *testing.T) {
	client, _ := controllertest.Start(t)
	ctx := controllertest.Context(t)
	_, cluster, _ := net.ParseCIDR("10.50.0.0/23") // two /24s
	startController(t, client, nodeipam.Options{ClusterCIDR: cluster})
	createNode(t, client, "a", "")
	createNode(t, client, "b", "")
	a, b := waitCIDR(t, client, "a"), waitCIDR(t, client, "b")
	if a == b {
		t.Fatalf("a and b both got %s", a)
	}
	createNode(t, client, "c", "")
	controllertest.Eventually(t, 20*time.Second, func() error {
		evs, err := client.CoreV1().Events("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == nodeipam.EventCIDRNotAvailable && e.InvolvedObject.Name == "c" {
				return nil
			}
		}
		return controllertest.Errorf("no %s event for node c among %d events", nodeipam.EventCIDRNotAvailable, len(evs.Items))
	})
	n, err := client.CoreV1().Nodes().Get(ctx, "c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Spec.PodCIDR != "" {
		t.Fatalf("node c got %s from a full range", n.Spec.PodCIDR)
	}
	// Once a subnet is freed, the waiting node gets it.
	if err := client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := waitCIDR(t, client, "c"); c != a {
		t.Errorf("node c got %s, want the freed %s", c, a)
	}
}
