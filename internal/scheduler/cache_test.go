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
