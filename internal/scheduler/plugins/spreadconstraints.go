package plugins

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// spreadConstraint is one topologySpreadConstraint of the pod being
// scheduled, parsed for counting.
type spreadConstraint struct {
	maxSkew     int64
	minDomains  int
	topologyKey string
	// selector is labelSelector with matchLabelKeys merged in from the
	// pod's labels; a nil labelSelector selects nothing.
	selector labels.Selector
	// honorAffinity (nodeAffinityPolicy, Honor by default) and
	// honorTaints (nodeTaintsPolicy, Ignore by default) say whether nodes
	// the pod could not go to still count as domains.
	honorAffinity, honorTaints bool
}

// spreadConstraints parses the pod's constraints with the given
// whenUnsatisfiable action.
func spreadConstraints(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for i := range pod.Spec.TopologySpreadConstraints {
		c := &pod.Spec.TopologySpreadConstraints[i]
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("constraint %d (%s): %w", i, c.TopologyKey, err)
		}
		if c.LabelSelector != nil {
			for _, k := range c.MatchLabelKeys {
				v, ok := pod.Labels[k]
				if !ok {
					continue
				}
				r, err := labels.NewRequirement(k, selection.In, []string{v})
				if err != nil {
					return nil, fmt.Errorf("constraint %d (%s): matchLabelKeys: %w", i, c.TopologyKey, err)
				}
				sel = sel.Add(*r)
			}
		}
		sc := spreadConstraint{
			maxSkew:       int64(c.MaxSkew),
			minDomains:    1,
			topologyKey:   c.TopologyKey,
			selector:      sel,
			honorAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor,
		}
		if c.MinDomains != nil && *c.MinDomains > 0 {
			sc.minDomains = int(*c.MinDomains)
		}
		out = append(out, sc)
	}
	return out, nil
}

// spreadNode is what one node adds to one constraint: whether it is one
// of the constraint's domains (eligible), which one, and its matching
// pods. It depends on the node and its pods only (given the pod being
// scheduled), so it is remembered per NodeInfo (see nodeMemo).
type spreadNode struct {
	eligible bool
	domain   string
	count    int64
}

// nodeState computes spreadNode for constraint c, one of all (the pod's
// constraints of c's kind, whose topology labels a node needs all of).
func (c *spreadConstraint) nodeState(pod *framework.PodInfo, all []spreadConstraint, ni *framework.NodeInfo) spreadNode {
	if !hasAllKeys(ni.Node, all) {
		return spreadNode{}
	}
	inc := nodeInclusion{pod: pod, node: ni}
	if !inc.includes(c) {
		return spreadNode{}
	}
	return spreadNode{eligible: true, domain: ni.Node.Labels[c.topologyKey], count: countMatching(ni, c.selector, pod.Pod.Namespace)}
}

// nodeStates returns c's nodeState on every node, remembered in memo under
// a key of everything nodeState reads besides the node.
func (c *spreadConstraint) nodeStates(cy *framework.Cycle, memo *nodeMemo[spreadNode], all []spreadConstraint) []spreadNode {
	pod := cy.Pod
	var key strings.Builder
	key.WriteString(pod.Pod.Namespace + "\x00" + selectorKey(c.selector) + "\x00" + c.topologyKey + "\x00")
	for i := range all {
		key.WriteString(all[i].topologyKey + ",")
	}
	if c.honorAffinity {
		key.WriteString("\x00affinity:" + nodeAffinityKey(pod.Pod))
	}
	if c.honorTaints {
		key.WriteString("\x00tolerations:")
		for i := range pod.Pod.Spec.Tolerations {
			key.WriteString(pod.Pod.Spec.Tolerations[i].String())
		}
	}
	return memo.perNode(cy, key.String(), cy.Snapshot.Nodes, func(ni *framework.NodeInfo) spreadNode {
		return c.nodeState(pod, all, ni)
	})
}

// nodeAffinityKey renders what NodeAffinity's filter reads of a pod.
func nodeAffinityKey(pod *corev1.Pod) string {
	keys := make([]string, 0, len(pod.Spec.NodeSelector))
	for k, v := range pod.Spec.NodeSelector {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	out := strings.Join(keys, ",")
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		out += "|" + a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.String()
	}
	return out
}

// hasAllKeys says whether node has every constraint's topology label:
// nodes lacking one are no domain of any constraint of the same kind.
func hasAllKeys(node *corev1.Node, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := node.Labels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}

// nodeInclusion evaluates the node inclusion policies for one node,
// computing each side only when some constraint honors it.
type nodeInclusion struct {
	pod       *framework.PodInfo
	node      *framework.NodeInfo
	affinity  int8 // 0 unknown, 1 matches, -1 does not
	tolerated int8
}

// includes says whether the node counts as a domain of c.
func (n *nodeInclusion) includes(c *spreadConstraint) bool {
	if c.honorAffinity {
		if n.affinity == 0 {
			n.affinity = -1
			if (NodeAffinity{}).Filter(n.pod, n.node) == nil {
				n.affinity = 1
			}
		}
		if n.affinity < 0 {
			return false
		}
	}
	if c.honorTaints {
		if n.tolerated == 0 {
			n.tolerated = -1
			if (TaintToleration{}).Filter(n.pod, n.node) == nil {
				n.tolerated = 1
			}
		}
		if n.tolerated < 0 {
			return false
		}
	}
	return true
}

// countMatching counts the pods on node that c's selector selects: in
// namespace ns and not terminating (a pod being deleted is about to leave
// its domain, so it does not count, as upstream).
func countMatching(node *framework.NodeInfo, sel labels.Selector, ns string) int64 {
	var n int64
	for _, p := range node.Pods {
		if p.Pod.Namespace != ns || p.Pod.DeletionTimestamp != nil {
			continue
		}
		if sel.Matches(labels.Set(p.Pod.Labels)) {
			n++
		}
	}
	return n
}

// whatIfBase compares node with the snapshot's NodeInfo of the same name.
// changed is false when they are the same object (the normal case);
// otherwise base is the snapshot's version, nil if the snapshot has none,
// and a bound plugin corrects its summary by the difference.
func whatIfBase(snap *framework.Snapshot, node *framework.NodeInfo) (base *framework.NodeInfo, changed bool) {
	i := snap.Index(node.Name())
	if i < 0 {
		return nil, true
	}
	if base = snap.Nodes[i]; base == node {
		return nil, false
	}
	return base, true
}
