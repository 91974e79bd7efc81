package replicaset

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// podsToDelete picks the n pods whose loss hurts least, in the order
// Kubernetes users expect: unscheduled before scheduled, Pending before
// Unknown before Running, not ready before ready, pods doubled up on a node
// before lone ones, recently ready before long ready, more restarts before
// fewer, and newer before older.
func podsToDelete(pods []*corev1.Pod, n int) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	ranked := make([]*corev1.Pod, len(pods))
	copy(ranked, pods)
	sort.SliceStable(ranked, func(i, j int) bool { return deleteFirst(ranked[i], ranked[j], perNode) })
	return ranked[:n]
}

var phaseRank = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deleteFirst reports whether a should be deleted before b.
func deleteFirst(a, b *corev1.Pod, perNode map[string]int) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseRank[a.Status.Phase], phaseRank[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	ra, rb := controllerutil.IsPodReady(a), controllerutil.IsPodReady(b)
	if ra != rb {
		return !ra
	}
	if na, nb := perNode[a.Spec.NodeName], perNode[b.Spec.NodeName]; na != nb {
		return na > nb
	}
	if ra && rb {
		ta, _ := controllerutil.PodReadySince(a)
		tb, _ := controllerutil.PodReadySince(b)
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
	}
	if ca, cb := maxRestarts(a), maxRestarts(b); ca != cb {
		return ca > cb
	}
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if !ta.Equal(&tb) {
		return tb.Before(&ta)
	}
	return a.Name > b.Name
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, s := range p.Status.ContainerStatuses {
		m = max(m, s.RestartCount)
	}
	return m
}
