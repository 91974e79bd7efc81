package plugins

import (
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// nodeMemo remembers per-node results that depend only on a node's pods
// (how many pods a selector selects, say) across scheduling cycles, one
// table per key (the selector, say). It rests on the framework's contract
// that a NodeInfo inside a snapshot never changes: the scheduler cache
// replaces a node's NodeInfo with a changed clone, so a result stays right
// for as long as its NodeInfo is in use. Successive pods of one workload
// then recount only the nodes whose pods changed since the last cycle,
// instead of every pod in the cluster, which on a large cluster is most of
// a decision's cost (reading tens of thousands of pods' labels misses the
// CPU caches on nearly every one). A NodeInfo changed in place anyway is
// noticed by its pods' count and array and recomputed.
//
// A nil *nodeMemo remembers nothing. A nodeMemo is safe for concurrent
// use; cycles using the same memo take turns.
type nodeMemo[V any] struct {
	mu      sync.Mutex
	tables  map[string]*memoTable[V]
	lastUse uint64
}

// maxMemoTables bounds the keys remembered: a few workloads scheduled in
// turn. The least recently used table goes first.
const maxMemoTables = 16

type memoTable[V any] struct {
	byNode  map[*framework.NodeInfo]memoValue[V]
	lastUse uint64
}

type memoValue[V any] struct {
	fp podsFingerprint
	v  V
}

// podsFingerprint tells an unchanged NodeInfo from one whose Pods were
// changed in place (appended to, or re-sliced).
type podsFingerprint struct {
	n     int
	first **framework.PodInfo
}

func fingerprint(ni *framework.NodeInfo) podsFingerprint {
	fp := podsFingerprint{n: len(ni.Pods)}
	if fp.n > 0 {
		fp.first = &ni.Pods[0]
	}
	return fp
}

func newNodeMemo[V any]() *nodeMemo[V] {
	return &nodeMemo[V]{tables: map[string]*memoTable[V]{}}
}

// perNode returns compute(node) for each of nodes, in order, from the
// table of key where it has the node and computing (in parallel) the rest.
func (m *nodeMemo[V]) perNode(c *framework.Cycle, key string, nodes []*framework.NodeInfo, compute func(*framework.NodeInfo) V) []V {
	out := make([]V, len(nodes))
	if m == nil {
		c.Parallelize(len(nodes), func(i int) { out[i] = compute(nodes[i]) })
		return out
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.table(key)
	var missing []int
	for i, ni := range nodes {
		if mv, ok := t.byNode[ni]; ok && mv.fp == fingerprint(ni) {
			out[i] = mv.v
			continue
		}
		missing = append(missing, i)
	}
	c.Parallelize(len(missing), func(j int) { out[missing[j]] = compute(nodes[missing[j]]) })
	if len(t.byNode)+len(missing) > 2*len(nodes)+64 {
		// Mostly NodeInfos no snapshot holds any more: start over with
		// this snapshot's.
		t.byNode = make(map[*framework.NodeInfo]memoValue[V], len(nodes))
		for i, ni := range nodes {
			t.byNode[ni] = memoValue[V]{fingerprint(ni), out[i]}
		}
		return out
	}
	for _, i := range missing {
		t.byNode[nodes[i]] = memoValue[V]{fingerprint(nodes[i]), out[i]}
	}
	return out
}

// table returns key's table, making room for it if it is new.
func (m *nodeMemo[V]) table(key string) *memoTable[V] {
	m.lastUse++
	if t := m.tables[key]; t != nil {
		t.lastUse = m.lastUse
		return t
	}
	if len(m.tables) >= maxMemoTables {
		var oldest string
		var oldestUse uint64
		for k, t := range m.tables {
			if oldestUse == 0 || t.lastUse < oldestUse {
				oldest, oldestUse = k, t.lastUse
			}
		}
		delete(m.tables, oldest)
	}
	t := &memoTable[V]{byNode: map[*framework.NodeInfo]memoValue[V]{}, lastUse: m.lastUse}
	m.tables[key] = t
	return t
}

// selectorKey renders a selector for a memo key. String is canonical
// (requirements sorted by key, values sorted) but prints both the
// selector that selects everything and the one that selects nothing as
// "".
func selectorKey(sel labels.Selector) string {
	if s := sel.String(); s != "" || sel.Empty() {
		return s
	}
	return "<nothing>"
}

// termsKey renders resolved affinity terms for a memo key: what selects
// pods (selector, namespaces), the topology key and, with weights, the
// weight.
func termsKey(ts []framework.AffinityTerm, weights bool) string {
	var b strings.Builder
	for i := range ts {
		t := &ts[i]
		b.WriteString(selectorKey(t.Selector))
		b.WriteByte(0)
		b.WriteString(strings.Join(sets.List(t.Namespaces), ","))
		if t.NamespaceSelector != nil {
			b.WriteString("|" + selectorKey(t.NamespaceSelector))
		}
		b.WriteString("\x00" + t.TopologyKey)
		if weights {
			fmt.Fprintf(&b, "\x00%d", t.Weight)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// nsLabelsKey renders namespace labels, telling unknown (nil) from none.
func nsLabelsKey(l labels.Set) string {
	if l == nil {
		return "<unknown>"
	}
	return l.String()
}
