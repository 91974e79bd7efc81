package integration

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestEventsHaveNoWatchCache checks that events, as in upstream's
// defaults, have no watch cache: every list of events reads etcd, through
// either API group, even at resourceVersion "0", where the same lists of
// pods are served from memory once the pods' cache is there; and a watch
// of events, on an etcd watch of its own, still sees a new event.
func TestEventsHaveNoWatchCache(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	const ns = "default"
	event := func(name string) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: ns},
			Reason:         "Tested", Message: "an event", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "test"},
		}
	}
	if _, err := cs.CoreV1().Events(ns).Create(ctx, event("first"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, testPod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A consistent list of events would start their watch cache if they
	// had one; a list of pods at "0" starts the pods'. Wait until that
	// holds the pod.
	if _, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the pods' watch cache to hold the pod", func() bool {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		return err == nil && len(l.Items) == 1
	})

	pods, events := etcdRequests(t, cs, "list", "pods"), etcdRequests(t, cs, "list", "events")
	for range 5 {
		if l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"}); err != nil || len(l.Items) != 1 {
			t.Fatalf("list pods: %v items, %v", len(l.Items), err)
		}
		if l, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"}); err != nil || len(l.Items) != 1 {
			t.Fatalf("list core/v1 events: %v items, %v", len(l.Items), err)
		}
		if l, err := cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"}); err != nil || len(l.Items) != 1 {
			t.Fatalf("list events.k8s.io/v1 events: %v items, %v", len(l.Items), err)
		}
	}
	if n := etcdRequests(t, cs, "list", "pods") - pods; n != 0 {
		t.Errorf("5 lists of pods at resourceVersion 0 read etcd %v times, want 0 (the watch cache)", n)
	}
	if n := etcdRequests(t, cs, "list", "events") - events; n != 10 {
		t.Errorf("10 lists of events at resourceVersion 0 read etcd %v times, want 10 (no watch cache)", n)
	}

	l, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Events(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := cs.CoreV1().Events(ns).Create(ctx, event("second"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch of events ended")
			}
			if ev, isEvent := e.Object.(*corev1.Event); e.Type == watch.Added && isEvent && ev.Name == "second" {
				return
			}
			t.Fatalf("watch: unexpected %s %T", e.Type, e.Object)
		case <-timeout:
			t.Fatal("the watch of events did not see the new event in 10 s")
		}
	}
}
