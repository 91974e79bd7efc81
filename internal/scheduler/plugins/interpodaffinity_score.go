package plugins

import (
	"math"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// hardPodAffinityWeight is what an existing pod's required affinity term
// that matches the pod adds to its domain's score (upstream's default
// hardPodAffinityWeight), so pods go where pods wanting them are.
const hardPodAffinityWeight = 1

// mayScore says whether any term can add to a score this cycle.
func (a *affinityCycle) mayScore() bool {
	return len(a.preferred)+len(a.preferredAnti) > 0 || len(a.termNodes) > 0
}

// PreScore sums, per topology domain, the weights of the pod's preferred
// terms matching the domain's pods (anti-affinity subtracts), and of the
// existing pods' terms matching the pod: preferred ones by weight and
// required affinity by hardPodAffinityWeight. Only pods with terms are
// visited unless the pod has preferred terms of its own.
func (a *affinityCycle) PreScore(pod *framework.PodInfo, _ []*framework.NodeInfo) {
	if a.err != nil || !a.mayScore() {
		return
	}
	var perNode [][]pairCount
	if len(a.preferred)+len(a.preferredAnti) == 0 {
		// Only the few pods with terms of their own count.
		nodes := a.termNodes
		perNode = make([][]pairCount, len(nodes))
		a.cycle.Parallelize(len(nodes), func(k int) { perNode[k] = a.scoreOn(nodes[k]) })
	} else {
		// Every pod counts: remember the per-node sums for pods like this
		// one (same preferred terms, labels and namespace).
		nodes := a.cycle.Snapshot.Nodes
		p := a.cycle.Pod.Pod
		key := termsKey(a.preferred, true) + "\x01" + termsKey(a.preferredAnti, true) + "\x01" + p.Namespace +
			"\x00" + labels.Set(p.Labels).String() + "\x00" + nsLabelsKey(a.nsLabels)
		perNode = a.memo.scores.perNode(a.cycle, key, nodes, a.scoreOn)
	}
	for _, pcs := range perNode {
		for _, pc := range pcs {
			a.scores.addPair(pc)
		}
	}
}

// scoreOn is what ni's pods add to the scores of ni's domains.
func (a *affinityCycle) scoreOn(ni *framework.NodeInfo) []pairCount {
	pods := ni.PodsWithAffinity
	if len(a.preferred)+len(a.preferredAnti) > 0 {
		pods = ni.Pods
	}
	var out []keyCount
	incoming := a.cycle.Pod.Pod
	for _, p := range pods {
		for i := range a.preferred {
			if t := &a.preferred[i]; t.Matches(p.Pod, nil) {
				out = addKeyCount(out, t.TopologyKey, t.Weight)
			}
		}
		for i := range a.preferredAnti {
			if t := &a.preferredAnti[i]; t.Matches(p.Pod, nil) {
				out = addKeyCount(out, t.TopologyKey, -t.Weight)
			}
		}
		if p.Affinity == nil {
			continue
		}
		for i := range p.Affinity.Required {
			if t := &p.Affinity.Required[i]; t.Matches(incoming, a.nsLabels) {
				out = addKeyCount(out, t.TopologyKey, hardPodAffinityWeight)
			}
		}
		for i := range p.Affinity.Preferred {
			if t := &p.Affinity.Preferred[i]; t.Matches(incoming, a.nsLabels) {
				out = addKeyCount(out, t.TopologyKey, t.Weight)
			}
		}
		for i := range p.Affinity.PreferredAnti {
			if t := &p.Affinity.PreferredAnti[i]; t.Matches(incoming, a.nsLabels) {
				out = addKeyCount(out, t.TopologyKey, -t.Weight)
			}
		}
	}
	return domainsOf(ni.Node, out)
}

// Score sums the scores of the node's domains.
func (a *affinityCycle) Score(_ *framework.PodInfo, node *framework.NodeInfo) int64 {
	var sum int64
	for key, m := range a.scores.byKey {
		if v, ok := node.Node.Labels[key]; ok {
			sum += m[v]
		}
	}
	return sum
}

// Normalize maps the sums linearly onto [0, MaxNodeScore], lowest to
// highest; all equal scores 0.
func (a *affinityCycle) Normalize(scores []int64) {
	if len(scores) == 0 {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, v := range scores {
		lo, hi = min(lo, v), max(hi, v)
	}
	for i, v := range scores {
		if hi == lo {
			scores[i] = 0
			continue
		}
		scores[i] = int64(float64(framework.MaxNodeScore) * float64(v-lo) / float64(hi-lo))
	}
}
