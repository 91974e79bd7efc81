package plugins

import (
	"math"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// BalancedAllocation prefers nodes whose cpu and memory would be used in
// similar fractions after the pod is placed: the score falls with the
// standard deviation of the fractions. Resources a node has none of are
// left out.
type BalancedAllocation struct{}

func (BalancedAllocation) Name() string { return "BalancedAllocation" }

func (BalancedAllocation) Score(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	var fractions []float64
	add := func(requested, capacity int64) {
		if capacity <= 0 {
			return
		}
		fractions = append(fractions, min(float64(requested)/float64(capacity), 1))
	}
	add(node.Requested.MilliCPU+pod.Requests.MilliCPU, node.Allocatable.MilliCPU)
	add(node.Requested.Memory+pod.Requests.Memory, node.Allocatable.Memory)
	if len(fractions) < 2 {
		return framework.MaxNodeScore
	}
	var mean float64
	for _, f := range fractions {
		mean += f
	}
	mean /= float64(len(fractions))
	var variance float64
	for _, f := range fractions {
		variance += (f - mean) * (f - mean)
	}
	std := math.Sqrt(variance / float64(len(fractions)))
	return int64((1 - std) * float64(framework.MaxNodeScore))
}
