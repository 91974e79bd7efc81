package plugins

import (
	"fmt"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func TestNodeMemo(t *testing.T) {
	snap := spreadCluster()
	c := &framework.Cycle{Pod: spreadPod(), Snapshot: snap}
	var computed atomic.Int64
	count := func(ni *framework.NodeInfo) int64 { computed.Add(1); return int64(len(ni.Pods)) }
	m := newNodeMemo[int64]()

	if got := m.perNode(c, "k", snap.Nodes, count); fmt.Sprint(got) != "[2 1 1]" || computed.Load() != 3 {
		t.Fatalf("first: %v, computed %d", got, computed.Load())
	}
	m.perNode(c, "k", snap.Nodes, count)
	if computed.Load() != 3 {
		t.Fatalf("second pass computed %d", computed.Load()-3)
	}
	// A clone with another pod (as the cache makes) is a new node to the
	// memo; the others are remembered.
	next := &framework.Snapshot{Nodes: append([]*framework.NodeInfo(nil), snap.Nodes...)}
	next.Nodes[1] = snap.Nodes[1].Clone()
	next.Nodes[1].AddPod(framework.NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "x"}}))
	if got := m.perNode(c, "k", next.Nodes, count); fmt.Sprint(got) != "[2 2 1]" || computed.Load() != 4 {
		t.Fatalf("after a clone: %v, computed %d", got, computed.Load())
	}
	// A node changed in place, against the contract, is noticed.
	next.Nodes[2].AddPod(framework.NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "y"}}))
	if got := m.perNode(c, "k", next.Nodes, count); fmt.Sprint(got) != "[2 2 2]" {
		t.Fatalf("after an in-place change: %v", got)
	}
	// Keys beyond the limit push out the least recently used.
	for i := 0; i < maxMemoTables; i++ {
		m.perNode(c, fmt.Sprint("other-", i), next.Nodes, count)
	}
	if len(m.tables) != maxMemoTables || m.tables["k"] != nil {
		t.Errorf("%d tables, k kept: %v", len(m.tables), m.tables["k"] != nil)
	}
	var none *nodeMemo[int64]
	if got := none.perNode(c, "k", spreadCluster().Nodes, count); fmt.Sprint(got) != "[2 1 1]" {
		t.Errorf("nil memo: %v", got)
	}
}

// TestMemoMatchesRecount schedules a stream of pods the way the scheduler
// does (each placed pod added to a clone of its node) and checks that the
// remembering plugins decide exactly as ones that count afresh.
func TestMemoMatchesRecount(t *testing.T) {
	var nodes []*corev1.Node
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("n%02d", i)
		nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"zone": fmt.Sprint("z", i%3), corev1.LabelHostname: name}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: *resourcePods(100)}}})
	}
	snap := framework.NewSnapshot(nodes, nil)
	remembering := Default()
	fresh := Default()
	for _, f := range []*framework.Framework{fresh} {
		for i, p := range f.Filters {
			switch p.(type) {
			case PodTopologySpread:
				f.Filters[i] = PodTopologySpread{}
			case InterPodAffinity:
				f.Filters[i] = InterPodAffinity{}
			}
		}
		for i, ws := range f.Scores {
			switch ws.Plugin.(type) {
			case PodTopologySpread:
				f.Scores[i].Plugin = PodTopologySpread{}
			case InterPodAffinity:
				f.Scores[i].Plugin = InterPodAffinity{}
			}
		}
	}
	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	unschedulable := 0
	for i := 0; i < 60; i++ {
		app := []string{"web", "db", "web", "cache"}[i%4]
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("p", i), Namespace: "default", UID: types.UID(fmt.Sprint("p", i)),
			Labels: map[string]string{"app": app}}}
		switch app {
		case "web":
			pod.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: web},
				{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: web}}
		case "db":
			pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelHostname,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}},
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: corev1.PodAffinityTerm{
					TopologyKey: "zone", LabelSelector: web}}}}}
		case "cache":
			// Alternately by zone and by host: the same selector with
			// different topology keys must not share counts.
			key := "zone"
			if i%8 == 3 {
				key = corev1.LabelHostname
			}
			pod.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: key,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}}}
		}
		want, wd := fresh.Schedule(pod, snap)
		got, gd := remembering.Schedule(pod, snap)
		if got != want || gd.Message() != wd.Message() || fmt.Sprint(gd.Scores) != fmt.Sprint(wd.Scores) {
			t.Fatalf("pod %d (%s): remembering chose %q (%v), fresh %q (%v)", i, app, got, gd.Scores, want, wd.Scores)
		}
		if got == "" {
			unschedulable++
			continue
		}
		placed := pod.DeepCopy()
		placed.Spec.NodeName = got
		next := &framework.Snapshot{Nodes: append([]*framework.NodeInfo(nil), snap.Nodes...)}
		j := next.Index(got)
		next.Nodes[j] = next.Nodes[j].Clone()
		next.Nodes[j].AddPod(framework.NewPodInfo(placed))
		snap = next
	}
	// 15 db pods, one per host: 3 find no host.
	if unschedulable != 3 {
		t.Errorf("%d pods unschedulable, want the 3 db pods beyond one per host", unschedulable)
	}
}

func resourcePods(n int64) *resource.Quantity { return resource.NewQuantity(n, resource.DecimalSI) }

// TestMemoConcurrentUse shares one framework (and so its memories) among
// goroutines, as callers of a Framework may; run it with -race.
func TestMemoConcurrentUse(t *testing.T) {
	snap := spreadCluster()
	spread, interPod := NewPodTopologySpread(), NewInterPodAffinity()
	f := &framework.Framework{
		Filters: []framework.FilterPlugin{spread, interPod},
		Scores:  []framework.WeightedScore{{Plugin: spread, Weight: 2}, {Plugin: interPod, Weight: 2}},
	}
	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: web},
			{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: web}},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 5, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname, LabelSelector: web}}}}}}}
	want, _ := f.Schedule(pod, snap)
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 20; i++ {
				if got, _ := f.Schedule(pod, snap); got != want {
					errs <- got
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if got := <-errs; got != "" {
			t.Errorf("concurrent decision %q, want %q", got, want)
		}
	}
	if want != "b1" {
		t.Errorf("decision %q, want b1 (zone b is the emptiest)", want)
	}
}
