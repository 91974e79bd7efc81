package plugins

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// PodTopologySpread enforces the pod's topologySpreadConstraints:
// DoNotSchedule ones filter (placing the pod must keep the skew of its
// domain within maxSkew), ScheduleAnyway ones score (fewer matching pods
// in the node's domain scores higher). It counts matching pods once per
// cycle (ForCycle), so Filter is a few map lookups per node, and
// remembers per-node counts across cycles (see nodeMemo); the zero value
// remembers nothing.
type PodTopologySpread struct {
	counts *nodeMemo[spreadNode]
}

// NewPodTopologySpread returns the plugin with its memory of counts.
func NewPodTopologySpread() PodTopologySpread {
	return PodTopologySpread{counts: newNodeMemo[spreadNode]()}
}

// PodTopologySpread's reasons.
const (
	ReasonSpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"
	ReasonSpreadSkew         = "node(s) didn't match pod topology spread constraints"
)

const podTopologySpread = "PodTopologySpread"

func (PodTopologySpread) Name() string { return podTopologySpread }

// ForCycle counts the matching pods of every DoNotSchedule constraint per
// domain; the ScheduleAnyway counts wait for PreScore.
func (p PodTopologySpread) ForCycle(c *framework.Cycle) framework.BoundPlugin {
	pod := c.Pod.Pod
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		return noSpread
	}
	s := &spreadCycle{cycle: c, memo: p.counts}
	hard, err := spreadConstraints(pod, corev1.DoNotSchedule)
	if err != nil {
		s.err = err
		return s
	}
	if s.score, err = spreadConstraints(pod, corev1.ScheduleAnyway); err != nil {
		s.err = err
		return s
	}
	if len(hard) > 0 {
		s.filter = newSpreadCounts(c, hard, p.counts)
	}
	return s
}

// Filter and Score of the registered plugin (outside a Framework cycle)
// treat the node as the whole cluster.
func (p PodTopologySpread) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	return p.unbound(pod, node).(framework.FilterPlugin).Filter(pod, node)
}

func (p PodTopologySpread) Score(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	return p.unbound(pod, node).(framework.ScorePlugin).Score(pod, node)
}

func (p PodTopologySpread) unbound(pod *framework.PodInfo, node *framework.NodeInfo) framework.BoundPlugin {
	snap := &framework.Snapshot{Nodes: []*framework.NodeInfo{node}}
	b := p.ForCycle(&framework.Cycle{Pod: pod, Snapshot: snap})
	if ps, ok := b.(framework.PreScorer); ok {
		ps.PreScore(pod, snap.Nodes)
	}
	return b
}

// spreadCycle is PodTopologySpread bound to one cycle.
type spreadCycle struct {
	cycle *framework.Cycle
	memo  *nodeMemo[spreadNode]
	err   error
	// filter holds the DoNotSchedule constraints' counts (nil if none).
	filter *spreadCounts
	// score are the ScheduleAnyway constraints; scores their counts,
	// made by PreScore.
	score  []spreadConstraint
	scores *spreadScores
}

func (*spreadCycle) Name() string { return podTopologySpread }

func (s *spreadCycle) Filter(_ *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	return s.check(node, false)
}

// FilterWhatIf is Filter for a node whose pods may differ from the
// snapshot's: its domain's count is corrected by the difference.
func (s *spreadCycle) FilterWhatIf(_ *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	return s.check(node, true)
}

func (s *spreadCycle) check(node *framework.NodeInfo, whatIf bool) *framework.Status {
	if s.err != nil {
		return framework.Unschedulable(podTopologySpread, fmt.Sprintf("invalid topology spread constraints: %v", s.err))
	}
	if s.filter == nil {
		return nil
	}
	return s.filter.check(node, whatIf)
}

// spreadCounts are the matching pods per domain of each constraint of a
// kind, counted over the eligible nodes: those with every constraint's
// topology label that the node inclusion policies admit.
type spreadCounts struct {
	snap *framework.Snapshot
	pod  *framework.PodInfo
	cs   []spreadConstraint
	// domains[i] maps constraint i's domains (topology values) to their
	// matching pods.
	domains []map[string]int64
	// lowest[i] are the two emptiest domains of constraint i.
	lowest []twoLowest
	// self[i] is 1 if the pod itself matches constraint i's selector: it
	// adds to its domain's count once placed.
	self []int64
}

func newSpreadCounts(c *framework.Cycle, cs []spreadConstraint, memo *nodeMemo[spreadNode]) *spreadCounts {
	s := &spreadCounts{
		snap: c.Snapshot, pod: c.Pod, cs: cs,
		domains: make([]map[string]int64, len(cs)),
		lowest:  make([]twoLowest, len(cs)),
		self:    make([]int64, len(cs)),
	}
	for i := range cs {
		s.domains[i] = map[string]int64{}
		if cs[i].selector.Matches(labels.Set(c.Pod.Pod.Labels)) {
			s.self[i] = 1
		}
		for _, n := range cs[i].nodeStates(c, memo, cs) {
			if n.eligible {
				s.domains[i][n.domain] += n.count
			}
		}
		s.lowest[i] = lowestDomains(s.domains[i])
	}
	return s
}

// countNode fills row[i] with the pods on node matching constraint i, or
// -1 where the node is no domain of it.
func (s *spreadCounts) countNode(node *framework.NodeInfo, row []int64) {
	for i := range s.cs {
		row[i] = -1
		if n := s.cs[i].nodeState(s.pod, s.cs, node); n.eligible {
			row[i] = n.count
		}
	}
}

// check is the filter: for each constraint in order, the node needs its
// topology label, and placing the pod there must keep
// skew = (matching pods in the node's domain + self) - global minimum
// within maxSkew.
func (s *spreadCounts) check(node *framework.NodeInfo, whatIf bool) *framework.Status {
	var base *framework.NodeInfo
	changed := false
	if whatIf {
		base, changed = whatIfBase(s.snap, node)
	}
	var nowRow, baseRow []int64
	if changed {
		// A what-if node: correct its domain's count by how its matching
		// pods differ from the snapshot's.
		nowRow, baseRow = make([]int64, len(s.cs)), make([]int64, len(s.cs))
		s.countNode(node, nowRow)
		if base != nil {
			s.countNode(base, baseRow)
		}
	}
	for i := range s.cs {
		c := &s.cs[i]
		value, ok := node.Node.Labels[c.topologyKey]
		if !ok {
			return framework.Unschedulable(podTopologySpread, ReasonSpreadMissingLabel)
		}
		count, known := s.domains[i][value]
		minimum := s.lowest[i].min(value, count, false)
		if changed && known && nowRow[i] >= 0 {
			count += nowRow[i] - max(baseRow[i], 0)
			minimum = s.lowest[i].min(value, count, true)
		}
		if len(s.domains[i]) < c.minDomains {
			// Too few domains: the missing ones count as empty.
			minimum = 0
		}
		if spreadSkew(count, s.self[i], minimum) > c.maxSkew {
			return framework.Unschedulable(podTopologySpread, ReasonSpreadSkew)
		}
	}
	return nil
}

// spreadSkew is the skew a domain with count matching pods would have
// after taking the pod (self is 1 if the pod matches the selector), given
// the global minimum over the eligible domains.
func spreadSkew(count, self, globalMin int64) int64 {
	return count + self - globalMin
}

// twoLowest are a constraint's two domains with the fewest matching pods
// (ties to the smaller name, for determinism): enough to know the global
// minimum when one domain's count changes.
type twoLowest struct {
	first, second domainCount
}

type domainCount struct {
	domain string
	count  int64
}

func lowestDomains(domains map[string]int64) twoLowest {
	none := domainCount{count: math.MaxInt64}
	lo := twoLowest{first: none, second: none}
	less := func(a, b domainCount) bool {
		return a.count < b.count || (a.count == b.count && a.domain < b.domain)
	}
	for d, n := range domains {
		dc := domainCount{domain: d, count: n}
		switch {
		case less(dc, lo.first):
			lo.first, lo.second = dc, lo.first
		case less(dc, lo.second):
			lo.second = dc
		}
	}
	return lo
}

// min is the global minimum; when changed, domain's count is taken to be
// count instead of what was counted. With no domains at all it is 0.
func (lo twoLowest) min(domain string, count int64, changed bool) int64 {
	if lo.first.count == math.MaxInt64 {
		return 0
	}
	if !changed {
		return lo.first.count
	}
	other := lo.first.count
	if lo.first.domain == domain {
		other = lo.second.count
	}
	return min(other, count)
}

// noCycleState is a cycle plugin with nothing to do for this pod: every
// node passes and scores 0. The values below are boxed once, so binding
// one costs nothing.
type noCycleState struct{ name string }

var (
	noSpread   framework.BoundPlugin = noCycleState{podTopologySpread}
	noAffinity framework.BoundPlugin = noCycleState{interPodAffinity}
)

func (n noCycleState) Name() string                                                   { return n.name }
func (noCycleState) Filter(*framework.PodInfo, *framework.NodeInfo) *framework.Status { return nil }
func (noCycleState) Score(*framework.PodInfo, *framework.NodeInfo) int64              { return 0 }
