package framework_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// fitsAll passes every node; failsOdd rejects odd-numbered ones.
type fitsAll struct{}

func (fitsAll) Name() string                                                     { return "fitsAll" }
func (fitsAll) Filter(*framework.PodInfo, *framework.NodeInfo) *framework.Status { return nil }

type failsOdd struct{}

func (failsOdd) Name() string { return "failsOdd" }
func (failsOdd) Filter(_ *framework.PodInfo, n *framework.NodeInfo) *framework.Status {
	var i int
	fmt.Sscanf(n.Name(), "n%d", &i)
	if i%2 == 1 {
		return framework.Unschedulable("", "odd")
	}
	return nil
}

func nodes(n int) *framework.Snapshot {
	var ns []*corev1.Node
	for i := 0; i < n; i++ {
		ns = append(ns, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%04d", i)}})
	}
	return framework.NewSnapshot(ns, nil)
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	f := &framework.Framework{}
	for _, tc := range []struct{ nodes, want int }{{10, 10}, {99, 99}, {100, 100}, {500, 230}, {5000, 500}, {10000, 500}} {
		if got := f.NumFeasibleNodesToFind(tc.nodes); got != tc.want {
			t.Errorf("%d nodes: %d, want %d", tc.nodes, got, tc.want)
		}
	}
	f.PercentageOfNodesToScore = 100
	if got := f.NumFeasibleNodesToFind(5000); got != 5000 {
		t.Errorf("at 100%%: %d", got)
	}
}

func TestScheduleFromRotatesAndStopsEarly(t *testing.T) {
	snap := nodes(1000)
	f := &framework.Framework{Filters: []framework.FilterPlugin{fitsAll{}}, Parallelism: 1}
	node, d, next := f.ScheduleFrom(framework.NewPodInfo(&corev1.Pod{}), snap, 990)
	// 1000 nodes: 42% = 420 feasible nodes wanted, visited from 990.
	if node != "n0990" || next != 410 || len(d.Failed) != 0 {
		t.Fatalf("node %s next %d failed %d", node, next, len(d.Failed))
	}
	f.Filters = []framework.FilterPlugin{failsOdd{}}
	_, d, next = f.ScheduleFrom(framework.NewPodInfo(&corev1.Pod{}), snap, 0)
	// 420 even nodes are found by n0838.
	if next != 839 || len(d.Failed) != 419 || d.Failed["n0001"].Plugin != "failsOdd" {
		t.Fatalf("next %d failed %d", next, len(d.Failed))
	}
}

// byNumber scores a node by its number, so the highest-numbered wins.
type byNumber struct{}

func (byNumber) Name() string { return "byNumber" }
func (byNumber) Score(_ *framework.PodInfo, n *framework.NodeInfo) int64 {
	var i int64
	fmt.Sscanf(n.Name(), "n%d", &i)
	return i % 100
}

// Decisions reuse their working memory, and may leave out the score
// breakdown: neither changes a choice.
func TestScheduleReusesScratchAndOmitsScores(t *testing.T) {
	big, small := nodes(600), nodes(150)
	f := &framework.Framework{Filters: []framework.FilterPlugin{failsOdd{}},
		Scores: []framework.WeightedScore{{Plugin: byNumber{}, Weight: 2}}, Parallelism: 1}
	omit := *f
	omit.OmitScores = true
	pi := framework.NewPodInfo(&corev1.Pod{})
	for round := 0; round < 3; round++ {
		for _, snap := range []*framework.Snapshot{big, small, big} {
			want, wd, wantNext := f.ScheduleFrom(pi, snap, round*7)
			got, gd, next := omit.ScheduleFrom(pi, snap, round*7)
			if got != want || next != wantNext || len(gd.Failed) != len(wd.Failed) {
				t.Fatalf("round %d, %d nodes: %s/%d/%d failed, want %s/%d/%d", round, len(snap.Nodes), got, next, len(gd.Failed), want, wantNext, len(wd.Failed))
			}
			if len(gd.Scores) != 0 || len(wd.Scores) == 0 {
				t.Fatalf("scores: omitted %d, kept %d", len(gd.Scores), len(wd.Scores))
			}
			var best framework.NodeScore
			for _, s := range wd.Scores {
				if s.Total > best.Total {
					best = s
				}
			}
			if best.Node != want || best.Total != 2*best.ByPlugin[0] {
				t.Fatalf("chose %s, best by the scores is %+v", want, best)
			}
		}
	}
}

func TestPodRequests(t *testing.T) {
	q := resource.MustParse
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "side", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("200m")}}},
			{Name: "init", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("2"), "memory": q("1Gi")}}},
		},
		Containers: []corev1.Container{
			{Name: "a", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("500m"), "example.com/gpu": q("1")}}},
			{Name: "b"},
		},
		Overhead: corev1.ResourceList{"cpu": q("100m"), "memory": q("64Mi")},
	}}
	req, nz := framework.PodRequests(pod)
	// cpu: max(500m + 200m sidecar, 2 + 200m init step) + 100m overhead.
	if req.MilliCPU != 2300 || req.Memory != (1<<30)+(64<<20) || req.Scalar["example.com/gpu"] != 1 {
		t.Errorf("requests %+v", req)
	}
	// non-zero: unset requests count 100m/200Mi; the init step (2 + 200m
	// cpu, 1Gi + 200Mi memory with the sidecar) is the peak.
	if nz.MilliCPU != 2300 || nz.Memory != (1<<30)+(200<<20)+(64<<20) {
		t.Errorf("non-zero %+v", nz)
	}
}

func TestMessage(t *testing.T) {
	d := &framework.Diagnosis{NumNodes: 3, Failed: map[string]*framework.Status{
		"a": framework.Unschedulable("NodeResourcesFit", "Insufficient cpu"),
		"b": framework.Unschedulable("TaintToleration", "node(s) had untolerated taint {key: value}"),
		"c": framework.Unschedulable("TaintToleration", "node(s) had untolerated taint {key: value}"),
	}}
	want := "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {key: value}."
	if got := d.Message(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
