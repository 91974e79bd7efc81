package plugins

import corev1 "k8s.io/api/core/v1"

// topologyCounts are counts per topology domain: topology key, then the
// key's value. The zero value is empty and ready to add to.
type topologyCounts struct {
	byKey map[string]map[string]int64
	// total is the sum of all counts (all are non-negative).
	total int64
}

// addTerm adds n to node's domain of key, if node has that label.
func (t *topologyCounts) addTerm(node *corev1.Node, key string, n int64) {
	if v, ok := node.Labels[key]; ok {
		t.addPair(pairCount{key, v, n})
	}
}

// addPair adds to one domain.
func (t *topologyCounts) addPair(pc pairCount) {
	key, v, n := pc.key, pc.value, pc.n
	if n == 0 {
		return
	}
	if t.byKey == nil {
		t.byKey = map[string]map[string]int64{}
	}
	m := t.byKey[key]
	if m == nil {
		m = map[string]int64{}
		t.byKey[key] = m
	}
	m[v] += n
	t.total += n
}

// add adds per-key counts to node's domains.
func (t *topologyCounts) add(node *corev1.Node, kcs []keyCount) {
	for _, kc := range kcs {
		t.addTerm(node, kc.key, kc.n)
	}
}

func (t *topologyCounts) empty() bool { return t.total == 0 }

// onNode is the count of node's domain of key, plus the what-if delta d.
func (t *topologyCounts) onNode(node *corev1.Node, key string, d []keyCount) int64 {
	v, ok := node.Labels[key]
	if !ok {
		return 0
	}
	return t.byKey[key][v] + getKeyCount(d, key)
}

// anyOnNode says whether any of node's domains has a positive count.
func (t *topologyCounts) anyOnNode(node *corev1.Node, d []keyCount) bool {
	for key, m := range t.byKey {
		if v, ok := node.Labels[key]; ok && m[v]+getKeyCount(d, key) > 0 {
			return true
		}
	}
	for _, kc := range d {
		if _, counted := t.byKey[kc.key]; !counted && kc.n > 0 {
			if _, ok := node.Labels[kc.key]; ok {
				return true
			}
		}
	}
	return false
}

// pairCount is a count for one topology domain.
type pairCount struct {
	key, value string
	n          int64
}

// domainsOf turns per-key counts into counts of node's domains, leaving
// out the keys node has no label for.
func domainsOf(node *corev1.Node, kcs []keyCount) []pairCount {
	var out []pairCount
	for _, kc := range kcs {
		if v, ok := node.Labels[kc.key]; ok && kc.n != 0 {
			out = append(out, pairCount{kc.key, v, kc.n})
		}
	}
	return out
}

// keyCount is a count for one topology key; a few of them (one per key a
// node's pods' terms use) are kept in a slice rather than a map.
type keyCount struct {
	key string
	n   int64
}

func addKeyCount(kcs []keyCount, key string, n int64) []keyCount {
	for i := range kcs {
		if kcs[i].key == key {
			kcs[i].n += n
			return kcs
		}
	}
	return append(kcs, keyCount{key, n})
}

func getKeyCount(kcs []keyCount, key string) int64 {
	for _, kc := range kcs {
		if kc.key == key {
			return kc.n
		}
	}
	return 0
}

func sumCounts(kcs []keyCount) int64 {
	var n int64
	for _, kc := range kcs {
		n += kc.n
	}
	return n
}
