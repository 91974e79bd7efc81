package plugins

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func labelled(name, node string, l map[string]string, a *corev1.Affinity) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: l},
		Spec:       corev1.PodSpec{NodeName: node, Affinity: a},
	}
}

func antiTo(key, app string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}}}
}

func affinityTo(key, app string) *corev1.Affinity {
	return &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}}}
}

// affinityCluster: zone a (a1: db and a guard repelling web pods from
// its zone, a2), zone b (b1: db).
func affinityCluster() *framework.Snapshot {
	var nodes []*corev1.Node
	for _, n := range [][2]string{{"a1", "a"}, {"a2", "a"}, {"b1", "b"}} {
		nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n[0],
			Labels: map[string]string{"zone": n[1], corev1.LabelHostname: n[0]}}})
	}
	return framework.NewSnapshot(nodes, []*corev1.Pod{
		labelled("db-a", "a1", map[string]string{"app": "db"}, nil),
		labelled("guard", "a1", map[string]string{"app": "guard"}, antiTo("zone", "web")),
		labelled("db-b", "b1", map[string]string{"app": "db"}, nil),
	})
}

func bindAffinity(pod *corev1.Pod, snap *framework.Snapshot) *affinityCycle {
	return InterPodAffinity{}.ForCycle(&framework.Cycle{Pod: framework.NewPodInfo(pod), Snapshot: snap}).(*affinityCycle)
}

func reason(st *framework.Status) string {
	if st == nil {
		return ""
	}
	return st.Reasons[0]
}

func TestInterPodAffinityWhatIf(t *testing.T) {
	snap := affinityCluster()
	a1, a2, b1 := snap.Nodes[0], snap.Nodes[1], snap.Nodes[2]
	noGuard := a1.Clone()
	noGuard.RemovePod("guard")

	// Symmetry: the guard keeps web pods out of zone a, unless it goes.
	web := bindAffinity(labelled("web", "", map[string]string{"app": "web"}, nil), snap)
	if r := reason(web.Filter(nil, a2)); r != ReasonExistingAntiAffinity {
		t.Errorf("web on a2: %q", r)
	}
	if r := reason(web.FilterWhatIf(nil, noGuard)); r != "" {
		t.Errorf("web on a1 without the guard: %q", r)
	}
	if r := reason(web.FilterWhatIf(nil, a1)); r != ReasonExistingAntiAffinity {
		t.Errorf("web on the snapshot's a1 through FilterWhatIf: %q", r)
	}

	// The pod's own anti-affinity to db by zone: zone a is free once
	// db-a is gone from a1.
	loner := bindAffinity(labelled("loner", "", nil, antiTo("zone", "db")), snap)
	noDB := a1.Clone()
	noDB.RemovePod("db-a")
	if r := reason(loner.Filter(nil, a1)); r != ReasonPodAntiAffinity {
		t.Errorf("loner on a1: %q", r)
	}
	if r := reason(loner.FilterWhatIf(nil, noDB)); r != "" {
		t.Errorf("loner on a1 without db: %q", r)
	}
	addDB := a2.Clone()
	addDB.AddPod(framework.NewPodInfo(labelled("db-x", "a2", map[string]string{"app": "db"}, nil)))
	if r := reason(loner.FilterWhatIf(nil, b1)); r != ReasonPodAntiAffinity {
		t.Errorf("loner on b1: %q", r)
	}

	// Affinity to db by hostname: a1 has one, and loses it.
	follower := bindAffinity(labelled("follower", "", nil, affinityTo(corev1.LabelHostname, "db")), snap)
	if r := reason(follower.Filter(nil, a1)); r != "" {
		t.Errorf("follower on a1: %q", r)
	}
	if r := reason(follower.FilterWhatIf(nil, noDB)); r != ReasonPodAffinity {
		t.Errorf("follower on a1 without db: %q", r)
	}
	if r := reason(follower.FilterWhatIf(nil, addDB)); r != "" {
		t.Errorf("follower on a2 with a db added: %q", r)
	}
}

func TestInterPodAffinityFirstPod(t *testing.T) {
	snap := affinityCluster()
	self := map[string]string{"app": "group"}
	first := bindAffinity(labelled("g0", "", self, affinityTo("zone", "group")), snap)
	for _, n := range snap.Nodes {
		if st := first.Filter(nil, n); st != nil {
			t.Errorf("first pod of the group on %s: %v", n.Name(), st)
		}
	}
	// Once a group pod exists, only its zone will do.
	withGroup := framework.NewSnapshot([]*corev1.Node{snap.Nodes[0].Node, snap.Nodes[2].Node},
		[]*corev1.Pod{labelled("g1", "b1", self, nil)})
	second := bindAffinity(labelled("g2", "", self, affinityTo("zone", "group")), withGroup)
	if r := reason(second.Filter(nil, withGroup.Nodes[0])); r != ReasonPodAffinity {
		t.Errorf("second pod on a1: %q", r)
	}
	if r := reason(second.Filter(nil, withGroup.Nodes[1])); r != "" {
		t.Errorf("second pod on b1: %q", r)
	}
	// Removing the only group pod brings back the first-pod exception.
	empty := withGroup.Nodes[1].Clone()
	empty.RemovePod("g1")
	if r := reason(second.FilterWhatIf(nil, empty)); r != "" {
		t.Errorf("b1 without g1: %q", r)
	}
	// A pod that does not match its own term gets no exception.
	outsider := bindAffinity(labelled("o", "", nil, affinityTo("zone", "group")), snap)
	if r := reason(outsider.Filter(nil, snap.Nodes[0])); r != ReasonPodAffinity || !Unresolvable(outsider.Filter(nil, snap.Nodes[0])) {
		t.Errorf("outsider: %q", r)
	}
}

func TestInterPodAffinityInvalid(t *testing.T) {
	snap := affinityCluster()
	a := antiTo("zone", "x")
	a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}
	st := bindAffinity(labelled("bad", "", nil, a), snap).Filter(nil, snap.Nodes[0])
	if st == nil || st.Plugin != interPodAffinity || !Unresolvable(st) {
		t.Fatalf("invalid term: %v", st)
	}
	if b := (InterPodAffinity{}).ForCycle(&framework.Cycle{Pod: framework.NewPodInfo(&corev1.Pod{}),
		Snapshot: framework.NewSnapshot([]*corev1.Node{snap.Nodes[0].Node}, nil)}); b != noAffinity {
		t.Errorf("nothing to do, bound to %T", b)
	}
}
