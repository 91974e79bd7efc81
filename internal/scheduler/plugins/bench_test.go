package plugins

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// benchCluster is n nodes in 3 zones, a tenth tainted, each with 10 pods
// (half from one ReplicaSet).
func benchCluster(n int) *framework.Snapshot {
	nodes := make([]*corev1.Node, n)
	var pods []*corev1.Pod
	owner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "rs", Controller: new(true)}}
	for i := range nodes {
		name := fmt.Sprintf("node-%05d", i)
		nodes[i] = &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"zone": fmt.Sprintf("z%d", i%3), "kubernetes.io/hostname": name}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110")}},
		}
		if i%10 == 0 {
			nodes[i].Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
		}
		for j := 0; j < 10; j++ {
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d-%d", i, j), Namespace: "default", UID: types.UID(fmt.Sprintf("%d-%d", i, j))},
				Spec: corev1.PodSpec{NodeName: name, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}}}}},
			}
			if j%2 == 0 {
				p.OwnerReferences = owner
			}
			pods = append(pods, p)
		}
	}
	return framework.NewSnapshot(nodes, pods)
}

func benchPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "default",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "rs", Controller: new(true)}}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")}}}},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z0", "z1"}}}}}},
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 10, Preference: corev1.NodeSelectorTerm{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z1"}}}}}},
			}},
		},
	}
}

// BenchmarkScheduleOne is one decision of the pure core, with the
// adaptive number of feasible nodes (as the scheduler runs) and with every
// node filtered and scored.
func BenchmarkScheduleOne(b *testing.B) {
	for _, tc := range []struct {
		nodes, pct int
	}{{500, 0}, {500, 100}, {5000, 0}, {5000, 100}} {
		b.Run(fmt.Sprintf("nodes=%d/score=%s", tc.nodes, map[int]string{0: "adaptive", 100: "all"}[tc.pct]), func(b *testing.B) {
			snap := benchCluster(tc.nodes)
			pod := benchPod()
			f := Default()
			f.PercentageOfNodesToScore = tc.pct
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if node, d := f.Schedule(pod, snap); node == "" {
					b.Fatal(d.Message())
				}
			}
		})
	}
}
