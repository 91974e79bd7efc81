package plugins

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// NodeResourcesFit rejects nodes whose allocatable, less what their pods
// request, cannot hold the pod's requests: cpu, memory, ephemeral-storage,
// extended resources, and the pods count. Every shortage is a reason.
type NodeResourcesFit struct{}

// ReasonTooManyPods is NodeResourcesFit's reason when the pods count is full.
const ReasonTooManyPods = "Too many pods"

func (NodeResourcesFit) Name() string { return "NodeResourcesFit" }

func (NodeResourcesFit) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	var reasons []string
	if int64(len(node.Pods))+1 > node.AllowedPods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	req, alloc, used := pod.Requests, node.Allocatable, node.Requested
	insufficient := func(name corev1.ResourceName) {
		reasons = append(reasons, "Insufficient "+string(name))
	}
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		insufficient(corev1.ResourceCPU)
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		insufficient(corev1.ResourceMemory)
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		insufficient(corev1.ResourceEphemeralStorage)
	}
	for _, name := range req.ScalarNames() {
		if q := req.Scalar[name]; q > 0 && q > alloc.Scalar[name]-used.Scalar[name] {
			insufficient(name)
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return framework.Unschedulable("NodeResourcesFit", reasons...)
}
