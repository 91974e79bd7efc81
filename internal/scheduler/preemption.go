package scheduler

import (
	"fmt"
	"math"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins"
)

// Preemption as upstream's DefaultPreemption decides it, as pure functions
// of the pod, the snapshot it failed against (nominated pods included)
// and a clock for pods that have not started. Only nodes whose failure
// removing pods may fix are tried (not plugins.Unresolvable: resource
// fit, host ports, anti-affinity, topology skew); a dry run settles the
// rest. PodDisruptionBudgets do not exist in skiff yet, so no candidate
// ever violates one.

const (
	// preemptionPlugin names the statuses preemption itself produces.
	preemptionPlugin = "DefaultPreemption"

	reasonNoVictims      = "No preemption victims found for incoming pod"
	reasonNotHelpful     = "Preemption is not helpful for scheduling"
	msgPolicyNever       = "not eligible due to preemptionPolicy=Never."
	msgTerminatingVictim = "not eligible due to a terminating pod on the nominated node."

	// A dry run stops once it has this many candidates: 10% of the
	// potential nodes, at least 100 (upstream's defaults).
	minCandidateNodesPercentage = 10
	minCandidateNodesAbsolute   = 100
)

// preemptionPlan is the outcome of a successful preemption decision.
type preemptionPlan struct {
	// Node is where the preemptor is nominated.
	Node string
	// Victims are the pods to delete, most important first.
	Victims []*corev1.Pod
}

// planPreemption decides whether evicting lower-priority pods lets pi fit.
// snap and diag are the failed decision's; nominated is the node pi is
// already nominated to ("" if none); offset is where the dry run starts
// among the potential nodes (the caller rotates it, as upstream picks it at
// random). It returns a plan, or nil and the message users see after
// "preemption: ".
func planPreemption(f *framework.Framework, pi *framework.PodInfo, snap *framework.Snapshot, diag *framework.Diagnosis,
	nominated string, offset int, now time.Time) (*preemptionPlan, string) {
	if ok, msg := eligibleToPreempt(pi.Pod, snap, diag, nominated); !ok {
		return nil, msg
	}
	failed := map[string]*framework.Status{}
	var potential []*framework.NodeInfo
	prio := podPriority(pi.Pod)
	for _, ni := range snap.Nodes {
		st := diag.Failed[ni.Name()]
		switch {
		case st == nil || plugins.Unresolvable(st):
		case !hasLowerPriority(ni, prio):
			// Settled without a dry run (and without binding the
			// profile, when no node has anything to evict).
			failed[ni.Name()] = framework.Unschedulable(preemptionPlugin, reasonNoVictims)
		default:
			potential = append(potential, ni)
		}
	}
	var candidates []candidate
	if n := len(potential); n > 0 {
		// Bound once to the snapshot the pod failed on; each what-if
		// changes one node, which the bound filters account for.
		bound := f.ForCycle(pi, snap)
		want := max(n*minCandidateNodesPercentage/100, minCandidateNodesAbsolute)
		for i := 0; i < n && len(candidates) < want; i++ {
			ni := potential[(offset%n+i)%n]
			victims, st := selectVictims(bound, pi, ni, now)
			if st != nil {
				failed[ni.Name()] = st
				continue
			}
			candidates = append(candidates, candidate{node: ni.Name(), victims: victims})
		}
	}
	if len(candidates) == 0 {
		for _, ni := range snap.Nodes {
			if failed[ni.Name()] == nil {
				failed[ni.Name()] = framework.Unschedulable(preemptionPlugin, reasonNotHelpful)
			}
		}
		d := framework.Diagnosis{NumNodes: len(snap.Nodes), Failed: failed}
		return nil, d.Message()
	}
	best := pickCandidate(candidates, now)
	return &preemptionPlan{Node: best.node, Victims: best.victims}, ""
}

func hasLowerPriority(ni *framework.NodeInfo, prio int32) bool {
	for _, p := range ni.Pods {
		if podPriority(p.Pod) < prio {
			return true
		}
	}
	return false
}

// eligibleToPreempt: a pod with preemptionPolicy Never never preempts, and
// one whose earlier victims are still terminating on its nominated node
// waits for them rather than preempting more (unless that node can no
// longer take it at all).
func eligibleToPreempt(pod *corev1.Pod, snap *framework.Snapshot, diag *framework.Diagnosis, nominated string) (bool, string) {
	if p := pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return false, msgPolicyNever
	}
	if nominated == "" {
		return true, ""
	}
	if plugins.Unresolvable(diag.Failed[nominated]) {
		return true, ""
	}
	if i := snap.Index(nominated); i >= 0 {
		prio := podPriority(pod)
		for _, p := range snap.Nodes[i].Pods {
			if podPriority(p.Pod) < prio && terminatingByPreemption(p.Pod) {
				return false, msgTerminatingVictim
			}
		}
	}
	return true, ""
}

// terminatingByPreemption: deleted, with the DisruptionTarget condition
// preemption sets before it deletes.
func terminatingByPreemption(p *corev1.Pod) bool {
	if p.DeletionTimestamp == nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget {
			return c.Status == corev1.ConditionTrue && c.Reason == corev1.PodReasonPreemptionByScheduler
		}
	}
	return false
}

// selectVictims finds the fewest lower-priority pods on ni whose removal
// lets pi fit: all of them are removed, then each is given back, most
// important first, if pi still fits. It returns the victims (most
// important first), or why the node is no candidate. f is bound to the
// snapshot ni is from.
func selectVictims(f *framework.Framework, pi *framework.PodInfo, ni *framework.NodeInfo, now time.Time) ([]*corev1.Pod, *framework.Status) {
	prio := podPriority(pi.Pod)
	node := ni.Clone()
	var potential []*framework.PodInfo
	for _, p := range ni.Pods {
		if podPriority(p.Pod) < prio {
			potential = append(potential, p)
			node.RemovePod(p.Pod.UID)
		}
	}
	if len(potential) == 0 {
		return nil, framework.Unschedulable(preemptionPlugin, reasonNoVictims)
	}
	if st := filterNode(f, pi, node); st != nil {
		return nil, st
	}
	sort.SliceStable(potential, func(i, j int) bool { return moreImportant(potential[i].Pod, potential[j].Pod, now) })
	var victims []*corev1.Pod
	for _, p := range potential {
		node.AddPod(p)
		if filterNode(f, pi, node) != nil {
			node.RemovePod(p.Pod.UID)
			victims = append(victims, p.Pod)
		}
	}
	return victims, nil
}

// filterNode runs f's filters for pi on ni, a node of the snapshot f was
// bound to (ForCycle) or a changed copy of one.
func filterNode(f *framework.Framework, pi *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	return f.RunFilters(pi, ni)
}

// moreImportant orders victims: higher priority first, then the one
// running longer.
func moreImportant(a, b *corev1.Pod, now time.Time) bool {
	if pa, pb := podPriority(a), podPriority(b); pa != pb {
		return pa > pb
	}
	return startTime(a, now).Before(startTime(b, now))
}

// startTime is status.startTime; a pod not started yet counts as starting
// now.
func startTime(p *corev1.Pod, now time.Time) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return now
}

// candidate is a node where preemption works, with its victims.
type candidate struct {
	node    string
	victims []*corev1.Pod // most important first
}

// pickCandidate chooses among candidates (in dry-run order) by upstream's
// criteria, each breaking the previous one's ties: a node needing no
// victims; then (PDB violations: none exist) the lowest highest victim
// priority; the smallest sum of victim priorities; the fewest victims;
// the latest start among the highest-priority victims; the first node.
func pickCandidate(cs []candidate, now time.Time) candidate {
	for _, c := range cs {
		if len(c.victims) == 0 {
			return c
		}
	}
	scores := []func(c candidate) int64{
		func(c candidate) int64 { return -int64(podPriority(c.victims[0])) },
		func(c candidate) int64 {
			// Shifted to be positive, so that more pods of negative
			// priority never sum to less than fewer of them.
			var sum int64
			for _, v := range c.victims {
				sum += int64(podPriority(v)) + math.MaxInt32 + 1
			}
			return -sum
		},
		func(c candidate) int64 { return -int64(len(c.victims)) },
		func(c candidate) int64 { return earliestStartOfTop(c.victims, now).UnixNano() },
	}
	for _, score := range scores {
		best, top := cs[:0:0], int64(math.MinInt64)
		for _, c := range cs {
			switch s := score(c); {
			case s > top:
				best, top = append(best[:0], c), s
			case s == top:
				best = append(best, c)
			}
		}
		if len(best) == 1 {
			return best[0]
		}
		cs = best
	}
	return cs[0]
}

// earliestStartOfTop is the earliest start time among the victims of the
// highest priority.
func earliestStartOfTop(victims []*corev1.Pod, now time.Time) time.Time {
	top := podPriority(victims[0])
	earliest := startTime(victims[0], now)
	for _, v := range victims[1:] {
		switch p := podPriority(v); {
		case p > top:
			top, earliest = p, startTime(v, now)
		case p == top && startTime(v, now).Before(earliest):
			earliest = startTime(v, now)
		}
	}
	return earliest
}

// preemptionMessage is the tail upstream appends to the failure summary.
func preemptionMessage(msg string) string {
	if msg == "" {
		return ""
	}
	return fmt.Sprintf(" preemption: %s", msg)
}
