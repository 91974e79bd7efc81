package plugins

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func TestSpreadSkew(t *testing.T) {
	for _, tc := range []struct{ count, self, min, want int64 }{
		{0, 1, 0, 1}, // the emptiest domain, pod matches itself
		{2, 1, 1, 2},
		{2, 0, 1, 1}, // the pod does not match its own selector
		{3, 1, 0, 4},
	} {
		if got := spreadSkew(tc.count, tc.self, tc.min); got != tc.want {
			t.Errorf("skew(%d, %d, %d) = %d, want %d", tc.count, tc.self, tc.min, got, tc.want)
		}
	}
}

func TestLowestDomains(t *testing.T) {
	lo := lowestDomains(map[string]int64{"a": 3, "b": 1, "c": 1, "d": 5})
	if lo.first != (domainCount{"b", 1}) || lo.second != (domainCount{"c", 1}) {
		t.Fatalf("lowest %+v", lo)
	}
	for _, tc := range []struct {
		domain  string
		count   int64
		changed bool
		want    int64
	}{
		{"a", 3, false, 1},
		{"b", 4, true, 1}, // b grows: c is still at 1
		{"a", 0, true, 0}, // a empties: it is the new minimum
		{"d", 2, true, 1},
	} {
		if got := lo.min(tc.domain, tc.count, tc.changed); got != tc.want {
			t.Errorf("min(%s=%d, changed %v) = %d, want %d", tc.domain, tc.count, tc.changed, got, tc.want)
		}
	}
	single := lowestDomains(map[string]int64{"a": 2})
	if got := single.min("a", 1, true); got != 1 {
		t.Errorf("single domain changed to 1: min %d", got)
	}
	if got := lowestDomains(nil).min("a", 5, false); got != 0 {
		t.Errorf("no domains: min %d", got)
	}
}

// spreadCluster is zones a (a1: 2 web pods, a2: 1) and b (b1: 1).
func spreadCluster() *framework.Snapshot {
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	for _, n := range []struct {
		name, zone string
		web        int
	}{{"a1", "a", 2}, {"a2", "a", 1}, {"b1", "b", 1}} {
		nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name,
			Labels: map[string]string{"zone": n.zone, corev1.LabelHostname: n.name}}})
		for i := 0; i < n.web; i++ {
			pods = append(pods, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", n.name, i), Namespace: "default",
					UID: types.UID(fmt.Sprintf("%s-%d", n.name, i)), Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{NodeName: n.name},
			})
		}
	}
	return framework.NewSnapshot(nodes, pods)
}

func spreadPod(c ...corev1.TopologySpreadConstraint) *framework.PodInfo {
	return framework.NewPodInfo(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{TopologySpreadConstraints: c},
	})
}

func zoneConstraint(maxSkew int32) corev1.TopologySpreadConstraint {
	return corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
}

func bindSpread(pi *framework.PodInfo, snap *framework.Snapshot) *spreadCycle {
	return PodTopologySpread{}.ForCycle(&framework.Cycle{Pod: pi, Snapshot: snap}).(*spreadCycle)
}

func TestSpreadCounts(t *testing.T) {
	snap := spreadCluster()
	s := bindSpread(spreadPod(zoneConstraint(1)), snap)
	if got := s.filter.domains[0]; len(got) != 2 || got["a"] != 3 || got["b"] != 1 {
		t.Fatalf("domains %v", got)
	}
	// a: 3 + 1 - 1 = 3 > 1; b: 1 + 1 - 1 = 1.
	for _, n := range snap.Nodes {
		st := s.Filter(nil, n)
		if wantFail := n.Node.Labels["zone"] == "a"; (st != nil) != wantFail {
			t.Errorf("%s: %v", n.Name(), st)
		}
	}
	s = bindSpread(spreadPod(zoneConstraint(2)), snap)
	if st := s.Filter(nil, snap.Nodes[0]); st == nil {
		t.Error("a at skew 3 passed maxSkew 2")
	}
	s = bindSpread(spreadPod(zoneConstraint(3)), snap)
	if st := s.Filter(nil, snap.Nodes[0]); st != nil {
		t.Errorf("a at skew 3 failed maxSkew 3: %v", st)
	}
}

// TestSpreadWhatIf judges changed copies of snapshot nodes, as preemption
// does: the node's domain is recounted with the copy's pods.
func TestSpreadWhatIf(t *testing.T) {
	snap := spreadCluster()
	s := bindSpread(spreadPod(zoneConstraint(1)), snap)
	a1 := snap.Nodes[0].Clone()
	a1.RemovePod("a1-0")
	// a: 2 + 1 - 1 = 2, still too many.
	if st := s.FilterWhatIf(nil, a1); st == nil {
		t.Error("a1 less one pod passed")
	}
	a1.RemovePod("a1-1")
	if st := s.FilterWhatIf(nil, a1); st != nil {
		t.Errorf("a1 less two pods: %v", st)
	}
	// Removing b1's pod lowers the global minimum to 0 and b stays fine.
	b1 := snap.Nodes[2].Clone()
	b1.RemovePod("b1-0")
	if st := s.FilterWhatIf(nil, b1); st != nil {
		t.Errorf("b1 emptied: %v", st)
	}
	// Adding three pods to b1 makes b hold 4 and a (3) the minimum:
	// 4 + 1 - 3 = 2.
	b1 = snap.Nodes[2].Clone()
	for i := 0; i < 3; i++ {
		b1.AddPod(framework.NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint(i), UID: types.UID(fmt.Sprint("x", i)),
			Namespace: "default", Labels: map[string]string{"app": "web"}}}))
	}
	if st := s.FilterWhatIf(nil, b1); st == nil {
		t.Error("b1 with 4 web pods passed")
	}
	// The plain Filter trusts the node to be the snapshot's.
	if st := s.Filter(nil, snap.Nodes[2]); st != nil {
		t.Errorf("b1 from the snapshot: %v", st)
	}
}

func TestSpreadInvalidAndUnbound(t *testing.T) {
	snap := spreadCluster()
	bad := zoneConstraint(1)
	bad.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}
	st := bindSpread(spreadPod(bad), snap).Filter(nil, snap.Nodes[0])
	if st == nil || !strings.HasPrefix(st.Reasons[0], "invalid topology spread constraints") || !Unresolvable(st) {
		t.Fatalf("invalid selector: %v", st)
	}
	// Unbound, a node is the whole cluster: a1 alone is its zone's
	// minimum, so it passes maxSkew 1.
	if st := (PodTopologySpread{}).Filter(spreadPod(zoneConstraint(1)), snap.Nodes[0]); st != nil {
		t.Errorf("unbound: %v", st)
	}
	if b := (PodTopologySpread{}).ForCycle(&framework.Cycle{Pod: spreadPod(), Snapshot: snap}); b != noSpread {
		t.Errorf("a pod without constraints bound to %T", b)
	}
}
