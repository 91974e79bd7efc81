// Package framework is the scheduler's pure core: the node snapshot a
// decision is made against, the filter and score plugin contracts, and
// Schedule, which turns (pod, snapshot) into a node or a diagnosis with the
// upstream-style failure summary.
//
// It owns no I/O, no clock and no goroutines beyond a bounded worker pool
// inside one call. It does not own the plugins themselves (package plugins),
// nor the queue, cache, binding and events (package scheduler).
package framework

import (
	"fmt"
	"sort"
	"strings"
)

// MaxNodeScore is the top of the range every score plugin reports in after
// normalization.
const MaxNodeScore int64 = 100

// Status is why a node cannot take a pod: the plugin that said so and its
// reasons, each counted once in the summary. A nil *Status means the node
// passed.
type Status struct {
	Plugin  string
	Reasons []string
}

// Unschedulable returns a failing status.
func Unschedulable(plugin string, reasons ...string) *Status {
	return &Status{Plugin: plugin, Reasons: reasons}
}

// FilterPlugin decides whether a node can run a pod. Filter must only read
// its arguments and must be safe for concurrent calls.
type FilterPlugin interface {
	Name() string
	Filter(pod *PodInfo, node *NodeInfo) *Status
}

// ScorePlugin ranks the nodes that passed filtering. Score is called
// concurrently for different nodes and must only read its arguments; its
// result is in [0, MaxNodeScore] unless the plugin also implements
// ScoreNormalizer, which then maps the raw scores of all feasible nodes
// (same order as the nodes) into that range, in place.
type ScorePlugin interface {
	Name() string
	Score(pod *PodInfo, node *NodeInfo) int64
}

// ScoreNormalizer is implemented by score plugins whose raw scores are
// relative (counts, weight sums).
type ScoreNormalizer interface {
	Normalize(scores []int64)
}

// WeightedScore is a score plugin with its weight in the total.
type WeightedScore struct {
	Plugin ScorePlugin
	Weight int64
}

// NodeScore is one feasible node's total and per-plugin scores (in the
// order of Framework.Scores, after normalization, before weighting).
type NodeScore struct {
	Node     string
	Total    int64
	ByPlugin []int64
}

// Diagnosis explains a decision: for failures, why each node was
// rejected; for successes with more than one feasible node, the scores.
type Diagnosis struct {
	NumNodes int
	// Failed maps each rejected node to its status.
	Failed map[string]*Status
	// Scores of the feasible nodes, in snapshot order; empty when there was
	// at most one, or when the Framework omits them.
	Scores []NodeScore
}

// ErrNoNodes is the message when the snapshot is empty.
const ErrNoNodes = "no nodes available to schedule pods"

// Message is the summary users see in FailedScheduling events and the
// PodScheduled condition: "0/3 nodes are available: 1 Insufficient cpu,
// 2 node(s) had untolerated taint {key: value}." Each reason is counted
// over nodes and the "count reason" strings are sorted.
func (d *Diagnosis) Message() string {
	if d.NumNodes == 0 {
		return ErrNoNodes
	}
	counts := map[string]int{}
	for _, st := range d.Failed {
		for _, r := range st.Reasons {
			counts[r]++
		}
	}
	parts := make([]string, 0, len(counts))
	for r, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	avail := d.NumNodes - len(d.Failed)
	if len(parts) == 0 {
		return fmt.Sprintf("%d/%d nodes are available.", avail, d.NumNodes)
	}
	return fmt.Sprintf("%d/%d nodes are available: %s.", avail, d.NumNodes, strings.Join(parts, ", "))
}
