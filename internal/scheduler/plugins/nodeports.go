package plugins

import "github.com/skiff-sh/skiff/internal/scheduler/framework"

// NodePorts rejects nodes where a host port the pod wants is taken by a
// pod already there (same protocol and port, overlapping host IP).
type NodePorts struct{}

// ReasonNodePorts is NodePorts' reason.
const ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

func (NodePorts) Name() string { return "NodePorts" }

func (NodePorts) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	for _, want := range pod.HostPorts {
		for _, used := range node.UsedPorts {
			if want.Conflicts(used) {
				return framework.Unschedulable("NodePorts", ReasonNodePorts)
			}
		}
	}
	return nil
}
