package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/test/framework"
)

// createClasses creates PriorityClasses of the given values; a name
// ending in "-never" does not preempt.
func createClasses(t *testing.T, ctx context.Context, cs kubernetes.Interface, values map[string]int32) {
	t.Helper()
	for name, v := range values {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: v}
		if strings.HasSuffix(name, "-never") {
			never := corev1.PreemptNever
			pc.PreemptionPolicy = &never
		}
		if _, err := cs.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create class %s: %v", name, err)
		}
	}
}

// deletedPods records the final state of every pod deleted in namespace
// default while the test runs.
type deletedPods struct {
	mu   sync.Mutex
	pods map[string]*corev1.Pod
}

func watchDeletions(t *testing.T, ctx context.Context, cs kubernetes.Interface) *deletedPods {
	t.Helper()
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := &deletedPods{pods: map[string]*corev1.Pod{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Deleted {
				d.mu.Lock()
				d.pods[p.Name] = p
				d.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { w.Stop(); <-done })
	return d
}

func (d *deletedPods) get(name string) *corev1.Pod {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pods[name]
}

func TestPreemption(t *testing.T) {
	srv := framework.StartServer(t, framework.Options{})
	cs := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createClasses(t, ctx, cs, map[string]int32{"low": 10, "high": 1000, "high-never": 1000})
	nodes := controllertest.StartNodes(t, cs, controllertest.NodeOptions{CPU: "2"}, "n1")
	controllertest.StartNodeKubelet(t, cs, "default", nodes)
	startScheduler(t, cs, scheduler.Config{})
	deleted := watchDeletions(t, ctx, cs)

	// Fill n1 with two low-priority pods of 1 CPU each.
	for i := 0; i < 2; i++ {
		p := newPod(fmt.Sprintf("low-%d", i), "1")
		p.Spec.PriorityClassName = "low"
		createPod(t, ctx, cs, p)
		waitFor(t, ctx, p.Name+" running on n1", func() (bool, error) {
			got, err := cs.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
			return err == nil && got.Spec.NodeName == "n1" && got.Status.Phase == corev1.PodRunning, err
		})
		time.Sleep(1100 * time.Millisecond) // start times have whole seconds
	}

	// A high-priority pod that may not preempt stays pending, and says why.
	patient := newPod("patient", "1")
	patient.Spec.PriorityClassName = "high-never"
	createPod(t, ctx, cs, patient)
	want := "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
	waitFor(t, ctx, "patient unschedulable", func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		msg, ok := unschedulableMessage(p)
		return ok && msg == want, nil
	})
	if by := podsByNode(t, ctx, cs); len(by["n1"]) != 2 || deleted.get("low-0") != nil || deleted.get("low-1") != nil {
		t.Fatalf("a pod with preemptionPolicy Never preempted: %v", by)
	}

	// A high-priority pod of 1 CPU preempts one low pod: the later
	// started one, low-1. It is nominated to n1 and bound there once its
	// victim is gone; patient (same priority, queued first, but not
	// nominated) does not take the room.
	urgent := newPod("urgent", "1")
	urgent.Spec.PriorityClassName = "high"
	createPod(t, ctx, cs, urgent)
	var bound *corev1.Pod
	waitFor(t, ctx, "urgent bound to n1", func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "urgent", metav1.GetOptions{})
		bound = p
		return err == nil && p.Spec.NodeName == "n1", err
	})
	if bound.Status.NominatedNodeName != "n1" {
		t.Errorf("urgent's nominatedNodeName = %q", bound.Status.NominatedNodeName)
	}
	victim := deleted.get("low-1")
	if victim == nil || deleted.get("low-0") != nil {
		t.Fatalf("victims: low-0 %v, low-1 %v", deleted.get("low-0") != nil, victim != nil)
	}
	var disruption *corev1.PodCondition
	for i, c := range victim.Status.Conditions {
		if c.Type == corev1.DisruptionTarget {
			disruption = &victim.Status.Conditions[i]
		}
	}
	if disruption == nil || disruption.Status != corev1.ConditionTrue || disruption.Reason != corev1.PodReasonPreemptionByScheduler ||
		disruption.Message != "default-scheduler: preempting to accommodate a higher priority pod" {
		t.Errorf("victim's DisruptionTarget condition: %+v", disruption)
	}
	waitFor(t, ctx, "Preempted event", func() (bool, error) {
		want := fmt.Sprintf("Preempted: Preempted by pod %s on node n1", bound.UID)
		for _, e := range eventsFor(t, ctx, cs, "low-1") {
			if e == want {
				return true, nil
			}
		}
		return false, nil
	})
	p, err := cs.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{})
	if err != nil || p.Spec.NodeName != "" {
		t.Errorf("patient: %v, node %q", err, p.Spec.NodeName)
	}

	// A pod of lower priority finds nothing to preempt.
	lowest := newPod("lowest", "1")
	createPod(t, ctx, cs, lowest)
	want = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	waitFor(t, ctx, "lowest unschedulable", func() (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "lowest", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		msg, ok := unschedulableMessage(p)
		return ok && msg == want, nil
	})
}
