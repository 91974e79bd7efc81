package plugins

import (
	"strings"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Unresolvable says whether a node's failure is one that removing pods
// from the node cannot fix (upstream's UnschedulableAndUnresolvable), so
// preemption need not try the node: the node's own properties (cordon,
// name, taints, labels) or a pod spec that cannot be satisfied. Pod
// affinity is among them, as upstream: removing pods never adds the pod
// a matching neighbour.
func Unresolvable(st *framework.Status) bool {
	if st == nil {
		return false
	}
	switch st.Plugin {
	case "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity":
		return true
	case podTopologySpread, interPodAffinity:
		for _, r := range st.Reasons {
			if r == ReasonSpreadMissingLabel || r == ReasonPodAffinity || strings.HasPrefix(r, "invalid ") {
				return true
			}
		}
	}
	return false
}
