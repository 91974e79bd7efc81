package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func testNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("10")}}}
}

func testPod(uid, node, cpu string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "ns", UID: types.UID(uid)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
}

func requestedCPU(t *testing.T, s *framework.Snapshot, node string) int64 {
	t.Helper()
	for _, n := range s.Nodes {
		if n.Name() == node {
			return n.Requested.MilliCPU
		}
	}
	t.Fatalf("node %s not in snapshot", node)
	return 0
}

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := newNodeCache()
	c.SetNode(testNode("b"))
	c.SetNode(testNode("a"))
	before := c.Snapshot()
	if len(before.Nodes) != 2 || before.Nodes[0].Name() != "a" {
		t.Fatalf("snapshot order: %v", before.Nodes)
	}

	c.Assume(framework.NewPodInfo(testPod("p1", "a", "1")))
	if !c.IsAssumed("p1") || requestedCPU(t, c.Snapshot(), "a") != 1000 {
		t.Fatal("assumed pod not charged")
	}
	if requestedCPU(t, before, "a") != 0 {
		t.Fatal("an earlier snapshot changed")
	}
	c.SetPod(testPod("p1", "a", "1")) // the informer confirms the binding
	if c.IsAssumed("p1") || requestedCPU(t, c.Snapshot(), "a") != 1000 {
		t.Fatal("confirmation double-counted or lost the pod")
	}
	c.Forget("p1") // a confirmed pod stays
	if requestedCPU(t, c.Snapshot(), "a") != 1000 {
		t.Fatal("Forget dropped a confirmed pod")
	}

	c.Assume(framework.NewPodInfo(testPod("p2", "b", "500m")))
	c.Forget("p2") // bind failed
	if c.IsAssumed("p2") || requestedCPU(t, c.Snapshot(), "b") != 0 {
		t.Fatal("forgotten pod still charged")
	}
}

func TestCachePodsBeforeNodeAndNodeRemoval(t *testing.T) {
	c := newNodeCache()
	c.SetPod(testPod("p1", "late", "1")) // pod informer ran first
	if len(c.Snapshot().Nodes) != 0 {
		t.Fatal("a node without a Node object is in the snapshot")
	}
	c.SetNode(testNode("late"))
	if requestedCPU(t, c.Snapshot(), "late") != 1000 {
		t.Fatal("early pod not counted once the node appeared")
	}
	c.RemoveNode("late")
	if len(c.Snapshot().Nodes) != 0 {
		t.Fatal("removed node still in the snapshot")
	}
	c.RemovePod("p1")
	if len(c.nodes) != 0 {
		t.Fatalf("leftover node infos: %v", c.nodes)
	}
}

func snapshotNames(s *framework.Snapshot) []string {
	var out []string
	for _, n := range s.Nodes {
		out = append(out, n.Name())
	}
	return out
}

// UpdateSnapshot copies only what changed, and must end up where a fresh
// Snapshot is after any mix of changes.
func TestCacheUpdateSnapshotMatchesFreshSnapshot(t *testing.T) {
	c := newNodeCache()
	for _, n := range []string{"c", "a", "b"} {
		c.SetNode(testNode(n))
	}
	s := &framework.Snapshot{}
	check := func(step string) {
		t.Helper()
		c.UpdateSnapshot(s)
		fresh := c.Snapshot()
		if len(s.Nodes) != len(fresh.Nodes) {
			t.Fatalf("%s: nodes %v, want %v", step, snapshotNames(s), snapshotNames(fresh))
		}
		for i := range fresh.Nodes {
			if s.Nodes[i] != fresh.Nodes[i] {
				t.Fatalf("%s: node %d is %s (%p), want %s (%p)", step, i, s.Nodes[i].Name(), s.Nodes[i], fresh.Nodes[i].Name(), fresh.Nodes[i])
			}
		}
		if len(s.Namespaces) != len(fresh.Namespaces) {
			t.Fatalf("%s: namespaces %v, want %v", step, s.Namespaces, fresh.Namespaces)
		}
		want := (&framework.Snapshot{Nodes: s.Nodes}).WithAffinity() // found by visiting every node
		for _, snap := range []*framework.Snapshot{s, fresh} {
			got := snap.WithAffinity()
			if len(got) != len(want) {
				t.Fatalf("%s: %d nodes with affinity pods, want %d", step, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: node with affinity pods %d is %s, want %s", step, i, got[i].Name(), want[i].Name())
				}
			}
		}
	}
	withAffinity := func(p *corev1.Pod) *corev1.Pod {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, TopologyKey: corev1.LabelHostname}}}}
		return p
	}
	check("first")
	if got := snapshotNames(s); len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Fatalf("order %v", got)
	}
	first := s.Nodes[0]
	c.Assume(framework.NewPodInfo(testPod("p1", "a", "1")))
	check("assumed")
	if first.Requested.MilliCPU != 0 || requestedCPU(t, s, "a") != 1000 {
		t.Fatal("a NodeInfo handed out changed, or the change is missing")
	}
	c.SetPod(testPod("p2", "c", "500m"))
	c.SetNode(testNode("b"))
	check("pod and node updates")
	c.RemoveNode("b")
	c.SetNode(testNode("d"))
	check("a node gone, another added")
	c.SetPod(testPod("p3", "late", "1"))
	check("a pod of an unknown node")
	c.SetNode(testNode("late"))
	check("its node appeared")
	c.SetPod(withAffinity(testPod("aff1", "c", "100m")))
	c.Assume(framework.NewPodInfo(withAffinity(testPod("aff2", "a", "100m"))))
	check("pods with affinity terms")
	if len(s.WithAffinity()) != 2 {
		t.Fatalf("%d nodes with affinity pods, want 2", len(s.WithAffinity()))
	}
	c.Forget("aff2")
	c.RemovePod("aff1")
	c.SetPod(withAffinity(testPod("aff3", "gone", "100m")))
	check("affinity pods gone, one on an unknown node")
	c.SetNode(testNode("gone"))
	check("the unknown node appeared")
	c.RemovePod("p1")
	// Another snapshot in between must not make this one miss changes.
	_ = c.Snapshot()
	c.SetPod(testPod("p4", "a", "2"))
	check("after a fresh snapshot")
	if requestedCPU(t, s, "a") != 2000 {
		t.Fatal("a change after a fresh Snapshot was missed")
	}
	// A different snapshot is rebuilt whole.
	other := &framework.Snapshot{}
	c.UpdateSnapshot(other)
	if len(other.Nodes) != len(s.Nodes) {
		t.Fatalf("other snapshot %v", snapshotNames(other))
	}
}

func TestCacheNamespaces(t *testing.T) {
	c := newNodeCache()
	c.SetNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"team": "a"}}})
	c.SetNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bare"}})
	before := c.Snapshot()
	if got := before.NamespaceLabels("team-a"); got["team"] != "a" {
		t.Fatalf("team-a labels %v", got)
	}
	if got := before.NamespaceLabels("bare"); got == nil || len(got) != 0 {
		t.Fatalf("a namespace without labels must be known with none: %v", got)
	}
	c.SetNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"team": "b"}}})
	c.RemoveNamespace("bare")
	after := c.Snapshot()
	if after.NamespaceLabels("team-a")["team"] != "b" || after.NamespaceLabels("bare") != nil {
		t.Fatalf("after changes: %v", after.Namespaces)
	}
	if before.NamespaceLabels("team-a")["team"] != "a" || before.NamespaceLabels("bare") == nil {
		t.Fatal("an earlier snapshot's namespaces changed")
	}
	// Snapshots with nominated pods keep the namespaces.
	c.SetNode(testNode("n1"))
	nominated := testPod("nominated", "", "1")
	prio := int32(10)
	nominated.Spec.Priority = &prio
	nom := newNominator()
	nom.Nominate(nominated, "n1")
	with := nom.WithNominated(c.Snapshot(), testPod("low", "", "1"))
	if requestedCPU(t, with, "n1") != 1000 || with.NamespaceLabels("team-a")["team"] != "b" {
		t.Fatalf("nominated snapshot: cpu %d, namespaces %v", requestedCPU(t, with, "n1"), with.Namespaces)
	}
	// A nominated pod with affinity terms makes its node one with
	// affinity pods in that snapshot, and the clone is the one listed.
	affine := testPod("affine", "", "1")
	affine.Spec.Priority = &prio
	affine.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, TopologyKey: corev1.LabelHostname}}}}
	nom.Nominate(affine, "n1")
	base := c.Snapshot()
	if len(base.WithAffinity()) != 0 {
		t.Fatalf("cache snapshot lists %d nodes with affinity pods, want none", len(base.WithAffinity()))
	}
	with = nom.WithNominated(base, testPod("low", "", "1"))
	var n1 *framework.NodeInfo
	for _, ni := range with.Nodes {
		if ni.Name() == "n1" {
			n1 = ni
		}
	}
	if got := with.WithAffinity(); len(got) != 1 || got[0] != n1 {
		t.Fatalf("nominated snapshot lists %v as nodes with affinity pods, want n1's clone", got)
	}
}
