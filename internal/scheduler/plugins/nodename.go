package plugins

import "github.com/skiff-sh/skiff/internal/scheduler/framework"

// NodeName passes only the node a pod names in spec.nodeName, if it names
// one. (The scheduler does not pick up such pods; this keeps the core
// right for callers that ask anyway.)
type NodeName struct{}

// ReasonNodeName is NodeName's reason.
const ReasonNodeName = "node(s) didn't match the requested node name"

func (NodeName) Name() string { return "NodeName" }

func (NodeName) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	if n := pod.Pod.Spec.NodeName; n != "" && n != node.Name() {
		return framework.Unschedulable("NodeName", ReasonNodeName)
	}
	return nil
}
