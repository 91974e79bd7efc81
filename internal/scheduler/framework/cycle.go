package framework

import "sort"

// CyclePlugin is a plugin whose verdict on one node depends on the rest of
// the cluster (where matching pods run: topology spread, inter-pod
// affinity). Rather than look at every node for every node, it summarizes
// the snapshot once per scheduling cycle: ForCycle returns the plugin bound
// to that summary, and the bound plugin takes the registered one's place in
// Filters and Scores for the cycle (so it must implement FilterPlugin or
// ScorePlugin wherever the registered plugin is listed; it may also
// implement ScoreNormalizer and PreScorer). A plugin listed in both Filters
// and Scores is bound once per cycle.
//
// ForCycle must only read its arguments. The bound plugin is used by one
// cycle, but its Filter and Score are called concurrently for different
// nodes, so after ForCycle (and PreScore) it must only read its state.
type CyclePlugin interface {
	Name() string
	ForCycle(c *Cycle) BoundPlugin
}

// BoundPlugin is a CyclePlugin bound to one cycle; see CyclePlugin for
// which interfaces it must implement.
type BoundPlugin interface {
	Name() string
}

// PreScorer is implemented by bound plugins that summarize the feasible
// nodes before scoring. PreScore is called once per cycle with more than
// one feasible node, with the feasible nodes in the order Score and
// Normalize see them, before any Score call.
type PreScorer interface {
	PreScore(pod *PodInfo, feasible []*NodeInfo)
}

// Cycle is what a CyclePlugin binds to: the pod being scheduled and the
// snapshot it is scheduled against, both read-only.
type Cycle struct {
	Pod      *PodInfo
	Snapshot *Snapshot
	// parallelism bounds Parallelize's workers, as Framework.Parallelism.
	parallelism int
}

// Parallelize calls fn(i) for every i in [0, n) on the profile's workers;
// fn must be safe for concurrent calls with different i.
func (c *Cycle) Parallelize(n int, fn func(i int)) {
	f := Framework{Parallelism: c.parallelism}
	f.parallelize(n, func(i int) bool { fn(i); return true })
}

// WhatIfFilter is implemented by bound plugins that can judge a node that
// differs from the snapshot they were bound to by the pods on it (a copy
// with pods removed or added, as preemption tries): they correct their
// summary by what that node's pods add to it now instead of what the
// snapshot's node of the same name added. Filter itself may assume the
// node is the snapshot's.
type WhatIfFilter interface {
	FilterWhatIf(pod *PodInfo, node *NodeInfo) *Status
}

// ForCycle returns f with its CyclePlugins bound to pi and snap; f itself
// is unchanged. Schedule does this before filtering. Callers that run
// filters themselves (preemption's what-if runs) bind once against the
// snapshot the pod failed on and then call RunFilters with changed copies
// of its nodes.
func (f *Framework) ForCycle(pi *PodInfo, snap *Snapshot) *Framework {
	var c *Cycle
	var bound []BoundPlugin // a handful: a slice beats a map
	bind := func(p CyclePlugin) BoundPlugin {
		for _, b := range bound {
			if b.Name() == p.Name() {
				return b
			}
		}
		if c == nil {
			c = &Cycle{Pod: pi, Snapshot: snap, parallelism: f.Parallelism}
		}
		b := p.ForCycle(c)
		bound = append(bound, b)
		return b
	}
	var filters []FilterPlugin
	for i, p := range f.Filters {
		cp, ok := p.(CyclePlugin)
		if !ok {
			continue
		}
		if filters == nil {
			filters = append([]FilterPlugin(nil), f.Filters...)
		}
		if b, ok := bind(cp).(FilterPlugin); ok {
			filters[i] = b
		}
	}
	var scores []WeightedScore
	for i, ws := range f.Scores {
		cp, ok := ws.Plugin.(CyclePlugin)
		if !ok {
			continue
		}
		if scores == nil {
			scores = append([]WeightedScore(nil), f.Scores...)
		}
		if b, ok := bind(cp).(ScorePlugin); ok {
			scores[i].Plugin = b
		}
	}
	if filters == nil && scores == nil {
		return f
	}
	out := *f
	if filters != nil {
		out.Filters = filters
	}
	if scores != nil {
		out.Scores = scores
	}
	return &out
}

// RunFilters runs f's filters for pi on one node, which may be a changed
// copy of a snapshot node (see WhatIfFilter), and returns the first
// failure, nil if the node passes. Bind f with ForCycle first.
func (f *Framework) RunFilters(pi *PodInfo, node *NodeInfo) *Status {
	for _, p := range f.Filters {
		var st *Status
		if w, ok := p.(WhatIfFilter); ok {
			st = w.FilterWhatIf(pi, node)
		} else {
			st = p.Filter(pi, node)
		}
		if st != nil {
			if st.Plugin == "" {
				st.Plugin = p.Name()
			}
			return st
		}
	}
	return nil
}

// preScore lets the bound plugins that want it see the feasible nodes.
func (f *Framework) preScore(pi *PodInfo, feasible []*NodeInfo) {
	for _, ws := range f.Scores {
		if p, ok := ws.Plugin.(PreScorer); ok {
			p.PreScore(pi, feasible)
		}
	}
}

// Index returns the position of the node named name in s.Nodes (which
// are sorted by name), or -1.
func (s *Snapshot) Index(name string) int {
	i := sort.Search(len(s.Nodes), func(i int) bool { return s.Nodes[i].Name() >= name })
	if i < len(s.Nodes) && s.Nodes[i].Name() == name {
		return i
	}
	return -1
}
