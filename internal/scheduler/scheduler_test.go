package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/test/framework"
)

// startScheduler runs a scheduler against cs until the test ends.
func startScheduler(t testing.TB, cs kubernetes.Interface, cfg scheduler.Config) {
	t.Helper()
	if cfg.Logger == nil && os.Getenv("SKIFF_TEST_LOG") == "" {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- scheduler.New(cs, cfg).Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("scheduler: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("scheduler did not stop")
		}
	})
}

// createNode creates a Ready node with the given allocatable through the
// API (status written through the status subresource, as a kubelet does).
func createNode(t testing.TB, ctx context.Context, cs kubernetes.Interface, name, cpu, mem string, labels map[string]string, taints ...corev1.Taint) {
	t.Helper()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
	created, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	created.Status = corev1.NodeStatus{
		Capacity: alloc, Allocatable: alloc,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
}

func newPod(name, cpu string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return p
}

func createPod(t testing.TB, ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) {
	t.Helper()
	if _, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

// waitFor polls cond until it holds or 30s pass.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond() })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func unschedulableMessage(p *corev1.Pod) (string, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message, true
		}
	}
	return "", false
}

// podsByNode lists the default namespace's pods by node ("" = pending).
func podsByNode(t testing.TB, ctx context.Context, cs kubernetes.Interface) map[string][]corev1.Pod {
	t.Helper()
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]corev1.Pod{}
	for _, p := range list.Items {
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
	}
	return out
}

// eventsFor returns "reason: message" of the events about a pod.
func eventsFor(t testing.TB, ctx context.Context, cs kubernetes.Interface, pod string) []string {
	t.Helper()
	list, err := cs.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Pod" && e.Regarding.Name == pod {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

func deleteNow(t testing.TB, ctx context.Context, cs kubernetes.Interface, name string) {
	t.Helper()
	err := cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	if err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

func TestSchedulerBindsPods(t *testing.T) {
	srv := framework.StartServer(t, framework.Options{})
	cs := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("n%d", i)
		createNode(t, ctx, cs, name, "2", "4Gi", map[string]string{"kubernetes.io/hostname": name})
	}
	startScheduler(t, cs, scheduler.Config{})

	// 7 pods of 1 CPU on 3 nodes of 2 CPUs: 6 fit, 2 per node.
	for i := 0; i < 7; i++ {
		createPod(t, ctx, cs, newPod(fmt.Sprintf("cpu-%d", i), "1"))
	}
	var pending corev1.Pod
	waitFor(t, ctx, "6 bound, 1 unschedulable", func() (bool, error) {
		by := podsByNode(t, ctx, cs)
		if len(by[""]) != 1 {
			return false, nil
		}
		pending = by[""][0]
		_, ok := unschedulableMessage(&pending)
		return ok && len(by["n1"])+len(by["n2"])+len(by["n3"]) == 6, nil
	})
	by := podsByNode(t, ctx, cs)
	for _, n := range []string{"n1", "n2", "n3"} {
		if len(by[n]) != 2 {
			t.Errorf("node %s has %d pods, want 2", n, len(by[n]))
		}
	}
	msg, _ := unschedulableMessage(&pending)
	if want := "0/3 nodes are available: 3 Insufficient cpu"; !strings.HasPrefix(msg, want) {
		t.Errorf("condition message %q, want prefix %q", msg, want)
	}
	waitFor(t, ctx, "FailedScheduling event", func() (bool, error) {
		for _, e := range eventsFor(t, ctx, cs, pending.Name) {
			if strings.HasPrefix(e, "FailedScheduling: 0/3 nodes are available: 3 Insufficient cpu") {
				return true, nil
			}
		}
		return false, nil
	})
	bound := by["n2"][0]
	waitFor(t, ctx, "Scheduled event", func() (bool, error) {
		want := fmt.Sprintf("Scheduled: Successfully assigned default/%s to n2", bound.Name)
		for _, e := range eventsFor(t, ctx, cs, bound.Name) {
			if e == want {
				return true, nil
			}
		}
		return false, nil
	})

	// Deleting a bound pod frees a CPU: the parked pod is retried.
	deleteNow(t, ctx, cs, bound.Name)
	waitFor(t, ctx, "pending pod bound after a delete", func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, pending.Name, metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "n2", err
	})

	for _, pods := range podsByNode(t, ctx, cs) {
		for _, p := range pods {
			deleteNow(t, ctx, cs, p.Name)
		}
	}

	t.Run("taints and selectors", func(t *testing.T) {
		taint := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
		for _, n := range []string{"n1", "n2"} {
			node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			node.Spec.Taints = []corev1.Taint{taint}
			if _, err := cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// Let the scheduler see the taints before the pods arrive.
		time.Sleep(300 * time.Millisecond)
		for i := 0; i < 3; i++ {
			createPod(t, ctx, cs, newPod(fmt.Sprintf("plain-%d", i), "100m"))
		}
		tolerant := newPod("tolerant", "100m")
		tolerant.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		tolerant.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"}
		createPod(t, ctx, cs, tolerant)
		nowhere := newPod("nowhere", "100m")
		nowhere.Spec.NodeSelector = map[string]string{"zone": "nowhere"}
		createPod(t, ctx, cs, nowhere)
		other := newPod("other-scheduler", "")
		other.Spec.SchedulerName = "someone-else"
		createPod(t, ctx, cs, other)

		waitFor(t, ctx, "placements", func() (bool, error) {
			by := podsByNode(t, ctx, cs)
			return len(by["n3"]) == 3 && len(by["n1"]) == 1 && len(by[""]) == 2, nil
		})
		by := podsByNode(t, ctx, cs)
		if by["n1"][0].Name != "tolerant" {
			t.Errorf("n1 has %s, want tolerant", by["n1"][0].Name)
		}
		want := "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint {dedicated: gpu}." +
			" preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
		waitFor(t, ctx, "nowhere unschedulable", func() (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "nowhere", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			msg, ok := unschedulableMessage(p)
			return ok && msg == want, nil
		})

		// A node update that matches the selector schedules the parked pod.
		node, err := cs.CoreV1().Nodes().Get(ctx, "n3", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Labels["zone"] = "nowhere"
		if _, err := cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, "nowhere bound after node update", func() (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "nowhere", metav1.GetOptions{})
			return err == nil && p.Spec.NodeName == "n3", err
		})
		p, err := cs.CoreV1().Pods("default").Get(ctx, "other-scheduler", metav1.GetOptions{})
		if err != nil || p.Spec.NodeName != "" || len(p.Status.Conditions) != 0 {
			t.Errorf("pod of another scheduler was touched: %v %+v", err, p.Status.Conditions)
		}
	})
}
