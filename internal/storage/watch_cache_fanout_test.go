package storage

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestFanoutTargets(t *testing.T) {
	nodeName := func(obj runtime.Object) string { return obj.(*corev1.Pod).Spec.NodeName }
	all := &subscription{}
	a1 := &subscription{indexed: true, indexValue: "a"}
	a2 := &subscription{indexed: true, indexValue: "a"}
	b := &subscription{indexed: true, indexValue: "b"}
	f := (&fanout{}).with(all).with(a1).with(a2).with(b)
	onNode := func(n string) *corev1.Pod { return &corev1.Pod{Spec: corev1.PodSpec{NodeName: n}} }
	cases := []struct {
		name string
		e    *cachedEvent
		want []*subscription
	}{
		{"create on a", &cachedEvent{created: true, cur: onNode("a")}, []*subscription{all, a1, a2}},
		{"update on b", &cachedEvent{cur: onNode("b"), prevSrc: onNode("b")}, []*subscription{all, b}},
		{"move a to b", &cachedEvent{cur: onNode("b"), prevSrc: onNode("a")}, []*subscription{all, b, a1, a2}},
		{"delete on a", &cachedEvent{deleted: true, prevSrc: onNode("a")}, []*subscription{all, a1, a2}},
		{"elsewhere", &cachedEvent{created: true, cur: onNode("c")}, []*subscription{all}},
		{"undecodable", &cachedEvent{created: true, err: errTest}, []*subscription{all, a1, a2, b}},
	}
	for _, tc := range cases {
		if got := f.targets(nil, tc.e, nodeName); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %d targets, want %d", tc.name, len(got), len(tc.want))
		}
	}
	g := f.without(a1).without(all)
	if got := g.targets(nil, &cachedEvent{created: true, cur: onNode("a")}, nodeName); !slices.Equal(got, []*subscription{a2}) {
		t.Errorf("after unsubscribing: %d targets, want a2 only", len(got))
	}
	if got := f.targets(nil, &cachedEvent{created: true, cur: onNode("a")}, nodeName); len(got) != 3 {
		t.Errorf("the old fanout changed: %d targets, want 3", len(got))
	}
	if g.without(b).without(a2).byValue["a"] != nil || len(g.without(b).without(a2).all) != 0 {
		t.Errorf("empty fanout keeps subscriptions")
	}
}

var errTest = testError("undecodable")

type testError string

func (e testError) Error() string { return string(e) }

// A watcher resuming from the buffer skips, without its predicate, the
// events whose states both lie outside its index value.
func TestMayMatchIndex(t *testing.T) {
	calls := 0
	nodeName := func(obj runtime.Object) string { calls++; return obj.(*corev1.Pod).Spec.NodeName }
	onNode := func(n string) *corev1.Pod { return &corev1.Pod{Spec: corev1.PodSpec{NodeName: n}} }
	move := &cachedEvent{cur: onNode("b"), prevSrc: onNode("a")}
	for _, tc := range []struct {
		e     *cachedEvent
		value string
		want  bool
	}{
		{&cachedEvent{created: true, cur: onNode("a")}, "a", true},
		{&cachedEvent{created: true, cur: onNode("a")}, "b", false},
		{move, "a", true},
		{move, "b", true},
		{move, "c", false},
		{&cachedEvent{deleted: true, prevSrc: onNode("a")}, "a", true},
		{&cachedEvent{deleted: true, prevSrc: onNode("a")}, "b", false},
		{&cachedEvent{created: true, err: errTest}, "a", true},
	} {
		if got := tc.e.mayMatchIndex(nodeName, tc.value); got != tc.want {
			t.Errorf("%+v for %q: %v, want %v", tc.e, tc.value, got, tc.want)
		}
	}
	calls = 0
	for range 100 {
		move.mayMatchIndex(nodeName, "x")
	}
	if calls != 0 {
		t.Errorf("index values computed %d more times; want once per event", calls)
	}
}

// The event ring grows from a small buffer up to its maximum, keeping
// order, and then drops the oldest events.
func TestEventRingGrows(t *testing.T) {
	r := newEventRing(1000)
	if len(r.buf) != initialRing {
		t.Fatalf("starts with %d slots, want %d", len(r.buf), initialRing)
	}
	var dropped []int64
	for rev := int64(1); rev <= 1500; rev++ {
		if old := r.push(&cachedEvent{rev: rev}); old != nil {
			dropped = append(dropped, old.rev)
		}
		if rev == 300 {
			r.pop() // the window expiring the oldest, mid-growth
			dropped = append(dropped, 1)
		}
	}
	if len(r.buf) != 1000 || r.len != 1000 {
		t.Fatalf("%d slots, %d events; want 1000 and 1000", len(r.buf), r.len)
	}
	if len(dropped) != 500 || dropped[0] != 1 || dropped[499] != 500 {
		t.Fatalf("dropped %d events (%v…), want revisions 1-500", len(dropped), dropped[:min(3, len(dropped))])
	}
	after := r.after(1200)
	if len(after) != 300 || after[0].rev != 1201 || after[299].rev != 1500 {
		t.Fatalf("after 1200: %d events from %d", len(after), after[0].rev)
	}
}
