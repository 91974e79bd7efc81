package plugins

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// TaintToleration filters nodes with a NoSchedule or NoExecute taint the
// pod does not tolerate, and scores nodes lower the more PreferNoSchedule
// taints the pod does not tolerate.
type TaintToleration struct{}

func (TaintToleration) Name() string { return "TaintToleration" }

// Filter reports the node's first untolerated hard taint.
func (TaintToleration) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	taints := node.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !toleratedBy(pod.Pod.Spec.Tolerations, t) {
			return framework.Unschedulable("TaintToleration",
				fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
		}
	}
	return nil
}

// Score counts untolerated PreferNoSchedule taints; only tolerations
// without an effect or with PreferNoSchedule count against them.
func (TaintToleration) Score(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	var n int64
	for i := range node.Taints {
		t := &node.Taints[i]
		if t.Effect != corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for j := range pod.Pod.Spec.Tolerations {
			tol := &pod.Pod.Spec.Tolerations[j]
			if (tol.Effect == "" || tol.Effect == corev1.TaintEffectPreferNoSchedule) && tolerates(tol, t) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			n++
		}
	}
	return n
}

// Normalize gives the node with the most untolerated taints 0.
func (TaintToleration) Normalize(scores []int64) { normalizeReverse(scores) }
