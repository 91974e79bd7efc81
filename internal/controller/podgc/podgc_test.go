package podgc_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/podgc"
)

// startController runs the pod garbage collector against client until
// the test ends, collecting every 100ms, with a node quarantine of
// quarantine.
func startController(t *testing.T, client kubernetes.Interface, threshold int, quarantine time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := podgc.New(ctx, client, f.Core().V1().Pods(), f.Core().V1().Nodes(), podgc.Options{
		TerminatedPodThreshold: threshold,
		Interval:               100 * time.Millisecond,
		Quarantine:             quarantine,
		Logger:                 slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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

func createPod(t *testing.T, client kubernetes.Interface, ns, name, node string, phase corev1.PodPhase) {
	t.Helper()
	ctx := controllertest.Context(t)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		},
	}
	p, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	if phase == "" {
		return
	}
	p.Status.Phase = phase
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set pod %s %s: %v", name, phase, err)
	}
}

func podNames(t *testing.T, client kubernetes.Interface, ns string) ([]string, error) {
	pods, err := client.CoreV1().Pods(ns).List(controllertest.Context(t), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names, nil
}

// wantPods waits until ns holds exactly the pods named want, and checks
// that it still does a moment later.
func wantPods(t *testing.T, client kubernetes.Interface, ns string, want ...string) {
	t.Helper()
	controllertest.Eventually(t, 10*time.Second, func() error {
		names, err := podNames(t, client, ns)
		if err != nil {
			return err
		}
		if !slices.Equal(names, want) {
			return controllertest.Errorf("pods %v, want %v", names, want)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // and it stays that way
	if names, err := podNames(t, client, ns); err != nil || !slices.Equal(names, want) {
		t.Errorf("pods %v (%v), want %v", names, err, want)
	}
}

func createNode(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := client.CoreV1().Nodes().Create(controllertest.Context(t), n, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
}

func TestTerminatedPodsOverThreshold(t *testing.T) {
	client, ns := controllertest.Start(t)
	createNode(t, client, "node-1")
	// Creation timestamps have one-second resolution: space the pods out
	// so "oldest" is well defined.
	for i, name := range []string{"done-1", "failed-2", "done-3", "failed-4"} {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		phase := corev1.PodSucceeded
		if name[0] == 'f' {
			phase = corev1.PodFailed
		}
		createPod(t, client, ns, name, "node-1", phase)
	}
	createPod(t, client, ns, "running", "node-1", corev1.PodRunning)
	startController(t, client, 2, time.Second)

	want := []string{"done-3", "failed-4", "running"}
	wantPods(t, client, ns, want...)
}

func TestPodsOnDeletedNode(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	createNode(t, client, "alive")
	createNode(t, client, "doomed")
	createPod(t, client, ns, "on-alive", "alive", corev1.PodRunning)
	createPod(t, client, ns, "on-doomed", "doomed", corev1.PodRunning)
	// on-ghost's node never exists; a finalizer keeps the pod readable
	// after the collector's delete, to show how it left it.
	createPod(t, client, ns, "on-ghost", "never-existed", corev1.PodRunning)
	ghost, err := client.CoreV1().Pods(ns).Get(ctx, "on-ghost", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ghost.Finalizers = []string{"skiff.test/keep"}
	if _, err := client.CoreV1().Pods(ns).Update(ctx, ghost, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// on-late's node registers during the quarantine: it must survive.
	createPod(t, client, ns, "on-late", "late", corev1.PodRunning)
	const quarantine = 1500 * time.Millisecond
	started := time.Now()
	startController(t, client, 0, quarantine)

	time.Sleep(500 * time.Millisecond)
	createNode(t, client, "late")
	time.Sleep(time.Until(started.Add(quarantine - 300*time.Millisecond)))
	// No node has been missing for the quarantine yet.
	p, err := client.CoreV1().Pods(ns).Get(ctx, "on-ghost", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pod on missing node inside the quarantine: %v", err)
	}
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("pod on missing node inside the quarantine: deletion %v, phase %v; want it untouched", p.DeletionTimestamp, p.Status.Phase)
	}

	controllertest.Eventually(t, 10*time.Second, func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "on-ghost", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.DeletionTimestamp == nil {
			return controllertest.Errorf("pod on missing node not deleted yet")
		}
		return nil
	})
	p, err = client.CoreV1().Pods(ns).Get(ctx, "on-ghost", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 0 {
		t.Errorf("pod on missing node: deletionGracePeriodSeconds %v, want 0", p.DeletionGracePeriodSeconds)
	}
	if p.Status.Phase != corev1.PodFailed {
		t.Errorf("pod on missing node: phase %q, want Failed", p.Status.Phase)
	}
	var cond *corev1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
			cond = &p.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != podgc.ReasonDeletionByPodGC || cond.LastTransitionTime.IsZero() {
		t.Errorf("pod on missing node: DisruptionTarget condition %+v, want True, reason %s, with a transition time", cond, podgc.ReasonDeletionByPodGC)
	}
	p.Finalizers = nil
	if _, err := client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := client.CoreV1().Nodes().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"on-alive", "on-late"}
	wantPods(t, client, ns, want...)
}

// nodeWith creates a node with the given Ready status and taints.
func nodeWith(t *testing.T, client kubernetes.Interface, name string, ready corev1.ConditionStatus, taints ...corev1.Taint) {
	t.Helper()
	ctx := controllertest.Context(t)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints}}
	n, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
}

func TestTerminatingPodsOnOutOfServiceNode(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	outOfService := corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}
	nodeWith(t, client, "down", corev1.ConditionFalse, outOfService)
	nodeWith(t, client, "sick", corev1.ConditionUnknown)
	nodeWith(t, client, "tainted-but-ready", corev1.ConditionTrue, outOfService)
	for _, p := range []struct{ name, node string }{
		{"down-terminating", "down"}, {"down-running", "down"},
		{"sick-terminating", "sick"}, {"ready-terminating", "tainted-but-ready"},
	} {
		createPod(t, client, ns, p.name, p.node, corev1.PodRunning)
	}
	// Bound pods deleted gracefully linger, Terminating, until their
	// kubelet confirms; none will.
	for _, name := range []string{"down-terminating", "sick-terminating", "ready-terminating"} {
		if err := client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	startController(t, client, 0, time.Minute)

	want := []string{"down-running", "ready-terminating", "sick-terminating"}
	wantPods(t, client, ns, want...)
}
