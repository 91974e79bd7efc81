package framework_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// countingPlugin is a CyclePlugin that records how it is used: its bound
// form passes nodes whose pods' count is at most the snapshot's largest
// and scores by pods; the registered form must never be called.
type countingPlugin struct {
	binds *atomic.Int64
}

func (countingPlugin) Name() string { return "counting" }
func (countingPlugin) Filter(*framework.PodInfo, *framework.NodeInfo) *framework.Status {
	return framework.Unschedulable("", "unbound filter called")
}
func (countingPlugin) Score(*framework.PodInfo, *framework.NodeInfo) int64 { return -1000 }
func (p countingPlugin) ForCycle(c *framework.Cycle) framework.BoundPlugin {
	p.binds.Add(1)
	return &boundCounting{snap: c.Snapshot}
}

type boundCounting struct {
	snap      *framework.Snapshot
	preScored []string
	whatIfs   int
}

func (*boundCounting) Name() string { return "counting" }
func (b *boundCounting) Filter(_ *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	if n.Name() == "n0001" {
		return framework.Unschedulable("", "bound filter says no")
	}
	return nil
}
func (b *boundCounting) FilterWhatIf(pi *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	b.whatIfs++
	return b.Filter(pi, n)
}
func (b *boundCounting) PreScore(_ *framework.PodInfo, feasible []*framework.NodeInfo) {
	for _, n := range feasible {
		b.preScored = append(b.preScored, n.Name())
	}
}
func (b *boundCounting) Score(_ *framework.PodInfo, n *framework.NodeInfo) int64 {
	if len(b.preScored) == 0 {
		return -1000 // PreScore must come first
	}
	return int64(len(n.Pods))
}

func TestForCycleBindsOncePerCycle(t *testing.T) {
	var binds atomic.Int64
	p := countingPlugin{binds: &binds}
	f := &framework.Framework{
		Filters:     []framework.FilterPlugin{fitsAll{}, p},
		Scores:      []framework.WeightedScore{{Plugin: p, Weight: 1}},
		Parallelism: 1,
	}
	var ns []*corev1.Node
	var pods []*corev1.Pod
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("n%04d", i)
		ns = append(ns, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
		for j := 0; j < i; j++ {
			pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d%d", i, j)}, Spec: corev1.PodSpec{NodeName: name}})
		}
	}
	snap := framework.NewSnapshot(ns, pods)
	node, d := f.Schedule(&corev1.Pod{}, snap)
	if binds.Load() != 1 {
		t.Fatalf("bound %d times, want once for both lists", binds.Load())
	}
	if node != "n0002" || d.Failed["n0001"] == nil || d.Failed["n0001"].Plugin != "counting" {
		t.Fatalf("node %q failed %v", node, d.Failed)
	}
	if len(d.Scores) != 2 || d.Scores[1].ByPlugin[0] != 2 {
		t.Fatalf("scores %+v", d.Scores)
	}
	if _, ok := f.Filters[1].(countingPlugin); !ok {
		t.Fatal("ForCycle changed the registered framework")
	}

	bound := f.ForCycle(framework.NewPodInfo(&corev1.Pod{}), snap)
	if bound == f || binds.Load() != 2 {
		t.Fatalf("ForCycle did not bind (binds %d)", binds.Load())
	}
	changed := snap.Nodes[1].Clone()
	if st := bound.RunFilters(framework.NewPodInfo(&corev1.Pod{}), changed); st == nil || st.Plugin != "counting" {
		t.Fatalf("RunFilters: %v", st)
	}
	if b := bound.Filters[1].(*boundCounting); b.whatIfs != 1 {
		t.Fatalf("RunFilters used FilterWhatIf %d times", b.whatIfs)
	}
	if plain := (&framework.Framework{Filters: []framework.FilterPlugin{fitsAll{}}}); plain.ForCycle(nil, snap) != plain {
		t.Fatal("a framework without cycle plugins should not be copied")
	}
}

func TestSnapshotIndex(t *testing.T) {
	snap := nodes(5)
	for i, n := range snap.Nodes {
		if got := snap.Index(n.Name()); got != i {
			t.Errorf("Index(%s) = %d", n.Name(), got)
		}
	}
	if snap.Index("n9999") != -1 || snap.Index("") != -1 {
		t.Error("missing node found")
	}
}
