package plugins

import (
	"math"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// spreadScores are the ScheduleAnyway constraints' counts: matching pods
// per domain, for the domains of the feasible nodes, counted over every
// eligible node of the snapshot.
type spreadScores struct {
	cs     []spreadConstraint
	counts []map[string]int64
	// weights[i] grows with the number of constraint i's domains, so that
	// a constraint over many small domains (hostname) is not drowned by
	// one over a few large ones (zone).
	weights []float64
}

// PreScore counts. Feasible nodes lacking a constraint's topology label
// are left out of scoring (they score 0).
func (s *spreadCycle) PreScore(_ *framework.PodInfo, feasible []*framework.NodeInfo) {
	if s.err != nil || len(s.score) == 0 {
		return
	}
	cs := s.score
	sc := &spreadScores{cs: cs, counts: make([]map[string]int64, len(cs)), weights: make([]float64, len(cs))}
	for i := range cs {
		sc.counts[i] = map[string]int64{}
	}
	for _, ni := range feasible {
		if !hasAllKeys(ni.Node, cs) {
			continue
		}
		for i := range cs {
			sc.counts[i][ni.Node.Labels[cs[i].topologyKey]] = 0
		}
	}
	for i := range cs {
		sc.weights[i] = math.Log(float64(len(sc.counts[i]) + 2))
	}
	// Count on the eligible nodes of the feasible nodes' domains.
	for i := range cs {
		for _, n := range cs[i].nodeStates(s.cycle, s.memo, cs) {
			if _, ok := sc.counts[i][n.domain]; ok && n.eligible {
				sc.counts[i][n.domain] += n.count
			}
		}
	}
	s.scores = sc
}

// Score is the weighted count of matching pods in the node's domains,
// plus maxSkew-1 per constraint (a larger maxSkew softens the
// differences); -1 marks a node left out of scoring.
func (s *spreadCycle) Score(_ *framework.PodInfo, node *framework.NodeInfo) int64 {
	sc := s.scores
	if sc == nil {
		return 0
	}
	if !hasAllKeys(node.Node, sc.cs) {
		return -1
	}
	var sum float64
	for i := range sc.cs {
		c := &sc.cs[i]
		sum += float64(sc.counts[i][node.Node.Labels[c.topologyKey]])*sc.weights[i] + float64(c.maxSkew-1)
	}
	return int64(math.Round(sum))
}

// Normalize reverses the counts into [0, MaxNodeScore]: the emptiest
// domain scores highest. Nodes left out score 0.
func (s *spreadCycle) Normalize(scores []int64) {
	if s.scores == nil {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, v := range scores {
		if v < 0 {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	for i, v := range scores {
		switch {
		case v < 0:
			scores[i] = 0
		case hi == 0:
			scores[i] = framework.MaxNodeScore
		default:
			scores[i] = framework.MaxNodeScore * (hi + lo - v) / hi
		}
	}
}
