package plugins

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// InterPodAffinity enforces inter-pod affinity: the pod's required
// affinity (some domain pod must match) and anti-affinity (no domain pod
// may match), and the required anti-affinity of the pods already running
// against the pod (symmetry); it scores the preferred terms of both sides.
// It counts matching pods per topology domain once per cycle (ForCycle),
// so Filter is a few map lookups per term.
//
// Namespaces: a term applies to the namespaces it lists plus those its
// namespaceSelector selects from Snapshot.Namespaces; with neither, to its
// pod's own. Without namespace labels in the snapshot an empty selector
// ({}) still selects every namespace and any other selects none.
//
// Per-node counts are remembered across cycles (see nodeMemo); the zero
// value remembers nothing.
type InterPodAffinity struct {
	required *nodeMemo[nodeAffinityCounts]
	scores   *nodeMemo[[]pairCount]
}

// NewInterPodAffinity returns the plugin with its memory of counts.
func NewInterPodAffinity() InterPodAffinity {
	return InterPodAffinity{required: newNodeMemo[nodeAffinityCounts](), scores: newNodeMemo[[]pairCount]()}
}

// InterPodAffinity's reasons.
const (
	ReasonPodAffinity          = "node(s) didn't match pod affinity rules"
	ReasonPodAntiAffinity      = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
)

const interPodAffinity = "InterPodAffinity"

func (InterPodAffinity) Name() string { return interPodAffinity }

// ForCycle counts, per topology domain, the existing pods matching the
// pod's required terms and the existing pods whose required anti-affinity
// matches the pod. Preferred terms wait for PreScore.
func (p InterPodAffinity) ForCycle(c *framework.Cycle) framework.BoundPlugin {
	snap := c.Snapshot
	a := &affinityCycle{cycle: c, memo: p, nsLabels: snap.NamespaceLabels(c.Pod.Pod.Namespace)}
	if t := c.Pod.Affinity; t != nil {
		if t.Err != nil {
			a.err = t.Err
			return a
		}
		a.required = resolveTerms(t.Required, snap)
		a.requiredAnti = resolveTerms(t.RequiredAnti, snap)
		a.preferred = resolveTerms(t.Preferred, snap)
		a.preferredAnti = resolveTerms(t.PreferredAnti, snap)
	}
	a.selfMatch = true
	for i := range a.required {
		a.selfMatch = a.selfMatch && a.required[i].Matches(c.Pod.Pod, a.nsLabels)
	}
	for _, ni := range snap.WithAffinity() {
		a.termNodes = append(a.termNodes, ni)
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			a.existingAnti.add(ni.Node, a.existingAntiOn(ni))
		}
	}
	if len(a.required)+len(a.requiredAnti) > 0 {
		a.countRequired()
	}
	if a.existingAnti.empty() && len(a.required)+len(a.requiredAnti) == 0 && !a.mayScore() {
		return noAffinity
	}
	return a
}

func resolveTerms(ts []framework.AffinityTerm, snap *framework.Snapshot) []framework.AffinityTerm {
	if len(ts) == 0 {
		return nil
	}
	out := make([]framework.AffinityTerm, len(ts))
	for i := range ts {
		out[i] = ts[i].ResolveNamespaces(snap)
	}
	return out
}

// Filter and Score of the registered plugin (outside a Framework cycle)
// treat the node as the whole cluster.
func (p InterPodAffinity) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	return p.unbound(pod, node).(framework.FilterPlugin).Filter(pod, node)
}

func (p InterPodAffinity) Score(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	return p.unbound(pod, node).(framework.ScorePlugin).Score(pod, node)
}

func (p InterPodAffinity) unbound(pod *framework.PodInfo, node *framework.NodeInfo) framework.BoundPlugin {
	snap := &framework.Snapshot{Nodes: []*framework.NodeInfo{node}}
	b := p.ForCycle(&framework.Cycle{Pod: pod, Snapshot: snap})
	if ps, ok := b.(framework.PreScorer); ok {
		ps.PreScore(pod, snap.Nodes)
	}
	return b
}

// affinityCycle is InterPodAffinity bound to one cycle.
type affinityCycle struct {
	cycle *framework.Cycle
	memo  InterPodAffinity
	err   error
	// nsLabels are the labels of the pod's namespace (nil if unknown),
	// for the existing pods' namespaceSelectors.
	nsLabels labels.Set
	// The pod's terms, namespaceSelectors resolved.
	required, requiredAnti, preferred, preferredAnti []framework.AffinityTerm
	// selfMatch: the pod matches all its own required affinity terms.
	selfMatch bool
	// termNodes are the nodes running pods with affinity terms of their own.
	termNodes []*framework.NodeInfo
	// affinity counts, per domain of each required affinity term, the
	// pods matching all of them; anti, per domain of each required
	// anti-affinity term, the pods matching it; existingAnti the existing
	// pods whose required anti-affinity terms match the pod, per domain of
	// each such term.
	affinity, anti, existingAnti topologyCounts
	// scores are the preferred terms' sums, made by PreScore.
	scores topologyCounts
}

func (*affinityCycle) Name() string { return interPodAffinity }

// nodeAffinityCounts is what one node's pods add to the counts: pods
// matching all required affinity terms, pods matching each required
// anti-affinity term; and the same as counts of the node's domains.
type nodeAffinityCounts struct {
	all                 int64
	anti                []int64
	affinity, antiPairs []pairCount
}

// countRequired counts the pod's required terms over every pod.
func (a *affinityCycle) countRequired() {
	nodes := a.cycle.Snapshot.Nodes
	key := termsKey(a.required, false) + "\x01" + termsKey(a.requiredAnti, false)
	for _, n := range a.memo.required.perNode(a.cycle, key, nodes, a.requiredOn) {
		for _, pc := range n.affinity {
			a.affinity.addPair(pc)
		}
		for _, pc := range n.antiPairs {
			a.anti.addPair(pc)
		}
	}
}

func (a *affinityCycle) requiredOn(ni *framework.NodeInfo) nodeAffinityCounts {
	var n nodeAffinityCounts
	if len(a.requiredAnti) > 0 {
		n.anti = make([]int64, len(a.requiredAnti))
	}
	for _, p := range ni.Pods {
		if len(a.required) > 0 && matchesAll(a.required, p.Pod) {
			n.all++
		}
		for i := range a.requiredAnti {
			if a.requiredAnti[i].Matches(p.Pod, nil) {
				n.anti[i]++
			}
		}
	}
	var byKey []keyCount
	for i := range a.required {
		byKey = append(byKey, keyCount{a.required[i].TopologyKey, n.all})
	}
	n.affinity = domainsOf(ni.Node, byKey)
	byKey = byKey[:0]
	for i, c := range n.anti {
		byKey = append(byKey, keyCount{a.requiredAnti[i].TopologyKey, c})
	}
	n.antiPairs = domainsOf(ni.Node, byKey)
	return n
}

// matchesAll says whether pod matches every term (resolved terms need no
// namespace labels).
func matchesAll(terms []framework.AffinityTerm, pod *corev1.Pod) bool {
	for i := range terms {
		if !terms[i].Matches(pod, nil) {
			return false
		}
	}
	return true
}

// existingAntiOn lists, per topology key, how many required anti-affinity
// terms of ni's pods match the pod being scheduled.
func (a *affinityCycle) existingAntiOn(ni *framework.NodeInfo) []keyCount {
	var out []keyCount
	pod := a.cycle.Pod.Pod
	for _, p := range ni.PodsWithRequiredAntiAffinity {
		for i := range p.Affinity.RequiredAnti {
			t := &p.Affinity.RequiredAnti[i]
			if t.Matches(pod, a.nsLabels) {
				out = addKeyCount(out, t.TopologyKey, 1)
			}
		}
	}
	return out
}

func (a *affinityCycle) Filter(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	return a.check(node, affinityDelta{})
}

// FilterWhatIf is Filter for a node whose pods may differ from the
// snapshot's: the counts of its domains are corrected by the difference.
func (a *affinityCycle) FilterWhatIf(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	var d affinityDelta
	if base, changed := whatIfBase(a.cycle.Snapshot, node); changed && a.err == nil {
		d = a.whatIf(base, node)
	}
	return a.check(node, d)
}

func (a *affinityCycle) check(node *framework.NodeInfo, d affinityDelta) *framework.Status {
	if a.err != nil {
		return framework.Unschedulable(interPodAffinity, fmt.Sprintf("invalid pod affinity terms: %v", a.err))
	}
	if !a.satisfiesAffinity(node.Node, d.affinity) {
		return framework.Unschedulable(interPodAffinity, ReasonPodAffinity)
	}
	for i := range a.requiredAnti {
		if a.anti.onNode(node.Node, a.requiredAnti[i].TopologyKey, d.anti) > 0 {
			return framework.Unschedulable(interPodAffinity, ReasonPodAntiAffinity)
		}
	}
	if a.existingAnti.anyOnNode(node.Node, d.existingAnti) {
		return framework.Unschedulable(interPodAffinity, ReasonExistingAntiAffinity)
	}
	return nil
}

// satisfiesAffinity: the node has every required term's topology label
// and each such domain has a pod matching all the terms. The exception is
// the first pod of a group with affinity to itself: when no pod anywhere
// matches and the pod matches its own terms, any node with the labels
// will do.
func (a *affinityCycle) satisfiesAffinity(node *corev1.Node, d []keyCount) bool {
	found := true
	for i := range a.required {
		key := a.required[i].TopologyKey
		if _, ok := node.Labels[key]; !ok {
			return false
		}
		if a.affinity.onNode(node, key, d) <= 0 {
			found = false
		}
	}
	return found || (a.affinity.total+sumCounts(d) == 0 && a.selfMatch)
}

// affinityDelta is how a what-if node's pods change the counts of its own
// domains, per topology key (a what-if changes pods, not node labels).
type affinityDelta struct {
	affinity, anti, existingAnti []keyCount
}

// whatIf computes the delta of node against base, the snapshot's version
// of it (nil if none).
func (a *affinityCycle) whatIf(base, node *framework.NodeInfo) affinityDelta {
	var d affinityDelta
	add := func(sign int64, ni *framework.NodeInfo) {
		if len(a.required)+len(a.requiredAnti) > 0 {
			n := a.requiredOn(ni)
			for i := range a.required {
				d.affinity = addKeyCount(d.affinity, a.required[i].TopologyKey, sign*n.all)
			}
			for i, c := range n.anti {
				d.anti = addKeyCount(d.anti, a.requiredAnti[i].TopologyKey, sign*c)
			}
		}
		for _, kc := range a.existingAntiOn(ni) {
			d.existingAnti = addKeyCount(d.existingAnti, kc.key, sign*kc.n)
		}
	}
	if base != nil {
		add(-1, base)
	}
	add(1, node)
	return d
}
