package plugins

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/metrics"
	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// benchCluster is n nodes in 3 zones, a tenth tainted, each with 10 pods
// (half from one ReplicaSet, labelled app=web). Every third node runs an
// app=db pod, and every hundredth a pod with required anti-affinity (to
// app=batch, which no pod here is), which every decision must check.
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
			switch {
			case j%2 == 0:
				p.OwnerReferences = owner
				p.Labels = map[string]string{"app": "web"}
			case j == 1 && i%3 == 0:
				p.Labels = map[string]string{"app": "db"}
			case j == 3 && i%100 == 0:
				p.Labels = map[string]string{"app": "loner"}
				p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
						TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "batch"}}}}}}
			}
			pods = append(pods, p)
		}
	}
	return framework.NewSnapshot(nodes, pods)
}

func benchPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "default", Labels: map[string]string{"app": "web"},
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
			defer reportCPU(b)()
			for b.Loop() {
				if node, d := f.Schedule(pod, snap); node == "" {
					b.Fatal(d.Message())
				}
			}
		})
	}
}

// BenchmarkScheduleOneInterPod is one decision for pods with topology
// spread or inter-pod (anti-)affinity: their per-cycle counting is over
// every pod of the cluster.
func BenchmarkScheduleOneInterPod(b *testing.B) {
	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	db := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	cases := []struct {
		name string
		set  func(*corev1.Pod)
	}{
		{"spread-zone", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: web}}
		}},
		{"spread-zone+hostname-anyway", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: web},
				{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: web}}
		}},
		{"anti-affinity-hostname", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
				{TopologyKey: "kubernetes.io/hostname", LabelSelector: db}}}
		}},
		{"affinity-zone", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
				{TopologyKey: "zone", LabelSelector: db}}}
		}},
		{"preferred-anti-affinity", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 50, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: web}}}}
		}},
	}
	snap := benchCluster(5000)
	for _, tc := range cases {
		// warm: successive pods of one workload, whose per-node counts the
		// plugins remember (all but the node the last pod went to);
		// cold: the first pod of a workload, counting every pod.
		for _, run := range []struct {
			pct  int
			cold bool
		}{{0, false}, {100, false}, {0, true}} {
			name := fmt.Sprintf("%s/nodes=5000/score=%s/memo=%s", tc.name,
				map[int]string{0: "adaptive", 100: "all"}[run.pct], map[bool]string{false: "warm", true: "cold"}[run.cold])
			b.Run(name, func(b *testing.B) {
				pod := benchPod()
				tc.set(pod)
				f := Default()
				f.PercentageOfNodesToScore = run.pct
				b.ReportAllocs()
				b.ResetTimer()
				defer reportCPU(b)()
				for b.Loop() {
					if run.cold {
						f = Default()
					}
					if node, d := f.Schedule(pod, snap); node == "" {
						b.Fatal(d.Message())
					}
				}
			})
		}
	}
}

// reportCPU adds the process's CPU time per op (user + system, all
// threads, GC included) to the results: on a shared machine it moves less
// with other load than ns/op does. Call it after ResetTimer and run the
// function it returns when the loop is done.
func reportCPU(b *testing.B) func() {
	start := metrics.ProcessCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(metrics.ProcessCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
