package storage

import (
	"fmt"
	"math/rand/v2"
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
	f := &fanout{}
	for _, sub := range []*subscription{all, a1, a2, b} {
		f.add(sub)
	}
	onNode := func(n string) *corev1.Pod { return &corev1.Pod{Spec: corev1.PodSpec{NodeName: n}} }
	cases := []struct {
		name string
		e    *cachedEvent
		want []*subscription
	}{
		{"create on a", &cachedEvent{rev: 1, created: true, cur: onNode("a")}, []*subscription{all, a1, a2}},
		{"update on b", &cachedEvent{rev: 1, cur: onNode("b"), prevSrc: onNode("b")}, []*subscription{all, b}},
		{"move a to b", &cachedEvent{rev: 1, cur: onNode("b"), prevSrc: onNode("a")}, []*subscription{all, b, a1, a2}},
		{"delete on a", &cachedEvent{rev: 1, deleted: true, prevSrc: onNode("a")}, []*subscription{all, a1, a2}},
		{"elsewhere", &cachedEvent{rev: 1, created: true, cur: onNode("c")}, []*subscription{all}},
		{"undecodable", &cachedEvent{rev: 1, created: true, err: errTest}, []*subscription{all, a1, a2, b}},
	}
	for _, tc := range cases {
		if got := f.targets(nil, tc.e, nodeName); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %d targets, want %d", tc.name, len(got), len(tc.want))
		}
	}
	f.remove(a1)
	f.remove(all)
	f.remove(all) // twice: a cut subscription is removed again when its watcher ends
	if got := f.targets(nil, &cachedEvent{rev: 1, created: true, cur: onNode("a")}, nodeName); !slices.Equal(got, []*subscription{a2}) {
		t.Errorf("after unsubscribing: %d targets, want a2 only", len(got))
	}
	// One that joins at revision 5 has the events up to 5 from the buffer:
	// dispatch offers it only the later ones.
	late := &subscription{indexed: true, indexValue: "a", from: 5}
	f.add(late)
	if got := f.targets(nil, &cachedEvent{rev: 5, created: true, cur: onNode("a")}, nodeName); !slices.Equal(got, []*subscription{a2}) {
		t.Errorf("revision 5: %d targets, want a2 only", len(got))
	}
	if got := f.targets(nil, &cachedEvent{rev: 6, created: true, cur: onNode("a")}, nodeName); !slices.Equal(got, []*subscription{a2, late}) {
		t.Errorf("revision 6: %d targets, want a2 and the late one", len(got))
	}
	f.remove(b)
	f.remove(a2)
	if got := f.takeAll(); !slices.Equal(got, []*subscription{late}) {
		t.Errorf("takeAll: %d subscriptions, want the late one", len(got))
	}
	f.remove(late) // already taken
	if f.byValue != nil || len(f.all) != 0 || len(f.unindexed) != 0 {
		t.Errorf("empty fanout keeps subscriptions")
	}
}

// Subscriptions leave in any order, each in constant time: the others keep
// their places and get their events.
func TestFanoutRemoveAnyOrder(t *testing.T) {
	nodeName := func(obj runtime.Object) string { return obj.(*corev1.Pod).Spec.NodeName }
	f := &fanout{}
	var subs []*subscription
	for i := range 200 {
		sub := &subscription{}
		if i%2 == 1 {
			sub.indexed, sub.indexValue = true, fmt.Sprintf("n%d", i%3)
		}
		subs = append(subs, sub)
		f.add(sub)
	}
	left := map[*subscription]bool{}
	for _, sub := range subs {
		left[sub] = true
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(len(subs))[:150] {
		f.remove(subs[i])
		delete(left, subs[i])
		for _, node := range []string{"n0", "n1", "n2"} {
			got := f.targets(nil, &cachedEvent{rev: 1, created: true, cur: &corev1.Pod{Spec: corev1.PodSpec{NodeName: node}}}, nodeName)
			want := 0
			for sub := range left {
				if !sub.indexed || sub.indexValue == node {
					want++
				}
			}
			if len(got) != want {
				t.Fatalf("%d targets on %s, want %d", len(got), node, want)
			}
			for _, sub := range got {
				if !left[sub] {
					t.Fatalf("a removed subscription is still a target")
				}
			}
		}
	}
	for i, sub := range f.all {
		if sub.allAt != i || !sub.member {
			t.Fatalf("subscription at %d records place %d (member %v)", i, sub.allAt, sub.member)
		}
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
