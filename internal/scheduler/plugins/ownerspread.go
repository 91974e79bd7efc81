package plugins

import "github.com/skiff-sh/skiff/internal/scheduler/framework"

// OwnerSpread spreads replicas: a node scores higher the fewer pods it
// runs with the same namespace and controller ownerReference as the pod.
// Pods without a controller score MaxNodeScore everywhere.
type OwnerSpread struct{}

func (OwnerSpread) Name() string { return "OwnerSpread" }

// Score counts the node's pods of the same namespace and controller.
func (OwnerSpread) Score(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	return int64(node.ControllerPods(pod))
}

// Normalize gives the node with the most siblings 0.
func (OwnerSpread) Normalize(scores []int64) { normalizeReverse(scores) }
