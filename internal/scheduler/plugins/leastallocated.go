package plugins

import "github.com/skiff-sh/skiff/internal/scheduler/framework"

// LeastAllocated prefers nodes with more free cpu and memory after the
// pod is placed, averaged with equal weights. It uses the non-zero request
// amounts, so pods without requests still spread.
type LeastAllocated struct{}

func (LeastAllocated) Name() string { return "LeastAllocated" }

func (LeastAllocated) Score(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	cpu := leastAllocated(node.NonZeroRequested.MilliCPU+pod.NonZero.MilliCPU, node.Allocatable.MilliCPU)
	mem := leastAllocated(node.NonZeroRequested.Memory+pod.NonZero.Memory, node.Allocatable.Memory)
	return (cpu + mem) / 2
}

// leastAllocated is the free share of capacity in [0, MaxNodeScore].
func leastAllocated(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}
