// Package plugins holds the built-in filter and score plugins, one per
// file, and Default, the one list of them that makes the default profile.
// Plugins are pure: they read a PodInfo and a NodeInfo and nothing else,
// except the CyclePlugins (PodTopologySpread, InterPodAffinity), which
// summarize the whole snapshot once per scheduling cycle.
package plugins

import "github.com/skiff-sh/skiff/internal/scheduler/framework"

// Default returns the default profile: filters in upstream's order (the
// first failing one names a node's reason) and scores with upstream's
// default weights. Each call returns new plugins, with memories of their
// own (see nodeMemo).
func Default() *framework.Framework {
	spread, interPod := NewPodTopologySpread(), NewInterPodAffinity()
	return &framework.Framework{
		Filters: []framework.FilterPlugin{
			NodeUnschedulable{},
			NodeName{},
			TaintToleration{},
			NodeAffinity{},
			NodePorts{},
			NodeResourcesFit{},
			spread,
			interPod,
		},
		Scores: []framework.WeightedScore{
			{Plugin: LeastAllocated{}, Weight: 1},
			{Plugin: BalancedAllocation{}, Weight: 1},
			{Plugin: NodeAffinity{}, Weight: 2},
			{Plugin: TaintToleration{}, Weight: 3},
			{Plugin: OwnerSpread{}, Weight: 2},
			{Plugin: spread, Weight: 2},
			{Plugin: interPod, Weight: 2},
		},
	}
}

var (
	_ framework.FilterPlugin    = NodeUnschedulable{}
	_ framework.FilterPlugin    = NodeName{}
	_ framework.FilterPlugin    = TaintToleration{}
	_ framework.FilterPlugin    = NodeAffinity{}
	_ framework.FilterPlugin    = NodePorts{}
	_ framework.FilterPlugin    = NodeResourcesFit{}
	_ framework.ScorePlugin     = LeastAllocated{}
	_ framework.ScorePlugin     = BalancedAllocation{}
	_ framework.ScorePlugin     = NodeAffinity{}
	_ framework.ScorePlugin     = TaintToleration{}
	_ framework.ScorePlugin     = OwnerSpread{}
	_ framework.ScoreNormalizer = NodeAffinity{}
	_ framework.ScoreNormalizer = TaintToleration{}
	_ framework.ScoreNormalizer = OwnerSpread{}

	_ framework.CyclePlugin     = PodTopologySpread{}
	_ framework.FilterPlugin    = PodTopologySpread{}
	_ framework.ScorePlugin     = PodTopologySpread{}
	_ framework.FilterPlugin    = (*spreadCycle)(nil)
	_ framework.ScorePlugin     = (*spreadCycle)(nil)
	_ framework.ScoreNormalizer = (*spreadCycle)(nil)
	_ framework.PreScorer       = (*spreadCycle)(nil)
	_ framework.WhatIfFilter    = (*spreadCycle)(nil)
	_ framework.CyclePlugin     = InterPodAffinity{}
	_ framework.FilterPlugin    = InterPodAffinity{}
	_ framework.ScorePlugin     = InterPodAffinity{}
	_ framework.FilterPlugin    = (*affinityCycle)(nil)
	_ framework.ScorePlugin     = (*affinityCycle)(nil)
	_ framework.ScoreNormalizer = (*affinityCycle)(nil)
	_ framework.PreScorer       = (*affinityCycle)(nil)
	_ framework.WhatIfFilter    = (*affinityCycle)(nil)
	_ framework.FilterPlugin    = noCycleState{}
	_ framework.ScorePlugin     = noCycleState{}
)

// normalizeReverse maps counts so that the smallest gets MaxNodeScore and
// the largest 0 (all MaxNodeScore when every count is 0).
func normalizeReverse(scores []int64) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s)
	}
	for i, s := range scores {
		if hi == 0 {
			scores[i] = framework.MaxNodeScore
			continue
		}
		scores[i] = framework.MaxNodeScore - s*framework.MaxNodeScore/hi
	}
}
