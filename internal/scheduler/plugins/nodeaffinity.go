package plugins

import (
	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// NodeAffinity filters nodes by the pod's nodeSelector and required node
// affinity (both must match), and scores nodes by the summed weights of
// the preferred node affinity terms they match.
type NodeAffinity struct{}

// ReasonNodeAffinity is NodeAffinity's reason.
const ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

func (NodeAffinity) Name() string { return "NodeAffinity" }

func (NodeAffinity) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	for k, v := range pod.Pod.Spec.NodeSelector {
		if have, ok := node.Node.Labels[k]; !ok || have != v {
			return framework.Unschedulable("NodeAffinity", ReasonNodeAffinity)
		}
	}
	a := pod.Pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	if !matchTerms(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, node.Node) {
		return framework.Unschedulable("NodeAffinity", ReasonNodeAffinity)
	}
	return nil
}

// Score sums the weights of matching preferred terms.
func (NodeAffinity) Score(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	a := pod.Pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return 0
	}
	var sum int64
	for i := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		p := &a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
		if p.Weight != 0 && matchTerm(&p.Preference, node.Node) {
			sum += int64(p.Weight)
		}
	}
	return sum
}

// Normalize scales so the best-matching node gets MaxNodeScore.
func (NodeAffinity) Normalize(scores []int64) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s)
	}
	if hi == 0 {
		return
	}
	for i := range scores {
		scores[i] = scores[i] * framework.MaxNodeScore / hi
	}
}
