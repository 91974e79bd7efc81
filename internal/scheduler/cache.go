package scheduler

import (
	"maps"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// nodeCache is the scheduler's view of nodes and the pods on them, fed by the
// informers plus *assumed* pods: pods the scheduler has placed whose
// binding the informer has not confirmed yet, so the next decision already
// counts them. It also keeps the namespaces' labels, for affinity terms'
// namespaceSelectors. NodeInfos are copy-on-write: a NodeInfo handed out
// in a snapshot never changes, a change replaces it with a clone.
type nodeCache struct {
	mu sync.Mutex
	// nodes by name; a NodeInfo with a nil Node holds pods of a node the
	// informer has not shown (yet, or any more) and is left out of
	// snapshots.
	nodes map[string]*framework.NodeInfo
	pods  map[types.UID]cachedPod
	// sorted is the snapshot order and index each name's place in it,
	// rebuilt when nodes come or go (dirty); layout counts the rebuilds.
	sorted []string
	index  map[string]int
	dirty  bool
	layout uint64
	// changed names the nodes whose NodeInfo was replaced since the last
	// UpdateSnapshot, which copies just those into the snapshot it keeps
	// up to date (last, built at layout lastLayout).
	changed map[string]struct{}
	// withAffinity names the nodes with pods that have inter-pod
	// (anti-)affinity terms, for Snapshot.WithAffinity.
	withAffinity map[string]struct{}
	last         *framework.Snapshot
	lastLayout   uint64
	// namespaces are the namespaces' labels; the map is replaced, never
	// changed, so snapshots share it.
	namespaces map[string]labels.Set
}

type cachedPod struct {
	node    string
	assumed bool
}

func newNodeCache() *nodeCache {
	return &nodeCache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]cachedPod{},
		changed: map[string]struct{}{}, withAffinity: map[string]struct{}{}, namespaces: map[string]labels.Set{}}
}

// SetNode adds or updates a node.
func (c *nodeCache) SetNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.nodes[node.Name]
	if ni == nil {
		c.put(node.Name, framework.NewNodeInfo(node))
		c.dirty = true
		return
	}
	if ni.Node == nil {
		c.dirty = true
	}
	ni = ni.Clone()
	ni.SetNode(node)
	c.put(node.Name, ni)
}

// RemoveNode drops a node; its pods stay until their own deletion.
func (c *nodeCache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.nodes[name]
	if ni == nil {
		return
	}
	c.dirty = true
	if len(ni.Pods) == 0 {
		c.drop(name)
		return
	}
	ni = ni.Clone()
	ni.Node = nil
	c.put(name, ni)
}

// SetPod records an assigned, non-terminal pod as seen by the informer,
// replacing an assumed or older copy of it.
func (c *nodeCache) SetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(pod.UID)
	c.addLocked(framework.NewPodInfo(pod), false)
}

// RemovePod forgets a pod (deleted, or terminal).
func (c *nodeCache) RemovePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(uid)
}

// Assume charges a pod to the node in its spec.nodeName before the bind
// is confirmed.
func (c *nodeCache) Assume(pi *framework.PodInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(pi.Pod.UID)
	c.addLocked(pi, true)
}

// Forget undoes Assume after a failed bind; a pod the informer has
// confirmed meanwhile stays.
func (c *nodeCache) Forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[uid]; ok && cp.assumed {
		c.removeLocked(uid)
	}
}

// IsAssumed says whether the pod has been placed but not yet confirmed.
func (c *nodeCache) IsAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pods[uid].assumed
}

// SetNamespace records a namespace's labels.
func (c *nodeCache) SetNamespace(ns *corev1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := maps.Clone(c.namespaces)
	next[ns.Name] = labels.Set(maps.Clone(ns.Labels))
	c.namespaces = next
}

// RemoveNamespace forgets a namespace.
func (c *nodeCache) RemoveNamespace(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.namespaces[name]; !ok {
		return
	}
	next := maps.Clone(c.namespaces)
	delete(next, name)
	c.namespaces = next
}

// Snapshot returns a new snapshot of the current nodes in name order and
// of the namespaces. The NodeInfos and the namespace map are shared and
// must not be changed.
func (c *nodeCache) Snapshot() *framework.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebuildOrder()
	s := &framework.Snapshot{Nodes: make([]*framework.NodeInfo, len(c.sorted)), Namespaces: c.namespaces}
	for i, name := range c.sorted {
		s.Nodes[i] = c.nodes[name]
	}
	c.setWithAffinity(s)
	return s
}

// UpdateSnapshot makes s what Snapshot would return now, reusing its
// arrays. When s is the snapshot the previous call updated and no node
// came or went since, only the NodeInfos replaced since then are copied
// in: a decision on a large cluster then costs a few pointer stores
// instead of a walk over every node. It has one caller, the scheduling
// goroutine, which owns s and must not let it be read past the cycle it
// was updated for.
func (c *nodeCache) UpdateSnapshot(s *framework.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebuildOrder()
	if s != c.last || c.lastLayout != c.layout || len(s.Nodes) != len(c.sorted) {
		s.Nodes = s.Nodes[:0]
		for _, name := range c.sorted {
			s.Nodes = append(s.Nodes, c.nodes[name])
		}
	} else {
		for name := range c.changed {
			if i, ok := c.index[name]; ok {
				s.Nodes[i] = c.nodes[name]
			}
		}
	}
	clear(c.changed)
	c.setWithAffinity(s)
	s.Namespaces = c.namespaces
	c.last, c.lastLayout = s, c.layout
}

// rebuildOrder recomputes the snapshot order after nodes came or went
// (c.mu held).
func (c *nodeCache) rebuildOrder() {
	if !c.dirty {
		return
	}
	c.sorted = c.sorted[:0]
	for name, ni := range c.nodes {
		if ni.Node != nil {
			c.sorted = append(c.sorted, name)
		}
	}
	sort.Strings(c.sorted)
	c.index = make(map[string]int, len(c.sorted))
	for i, name := range c.sorted {
		c.index[name] = i
	}
	c.dirty = false
	c.layout++
}

// put replaces a node's NodeInfo (c.mu held).
func (c *nodeCache) put(name string, ni *framework.NodeInfo) {
	c.nodes[name] = ni
	c.changed[name] = struct{}{}
	if len(ni.PodsWithAffinity) > 0 {
		c.withAffinity[name] = struct{}{}
	} else {
		delete(c.withAffinity, name)
	}
}

// drop forgets a node's NodeInfo (c.mu held).
func (c *nodeCache) drop(name string) {
	delete(c.nodes, name)
	delete(c.withAffinity, name)
}

// setWithAffinity records s's nodes with affinity pods (c.mu held,
// s.Nodes current). It costs a sort of those nodes, nothing when there
// are none.
func (c *nodeCache) setWithAffinity(s *framework.Snapshot) {
	var out []*framework.NodeInfo
	if len(c.withAffinity) > 0 {
		idx := make([]int, 0, len(c.withAffinity))
		for name := range c.withAffinity {
			if i, ok := c.index[name]; ok {
				idx = append(idx, i)
			}
		}
		sort.Ints(idx)
		out = make([]*framework.NodeInfo, 0, len(idx))
		for _, i := range idx {
			out = append(out, s.Nodes[i])
		}
	}
	s.SetWithAffinity(out)
}

func (c *nodeCache) addLocked(pi *framework.PodInfo, assumed bool) {
	name := pi.Pod.Spec.NodeName
	ni := c.nodes[name]
	if ni == nil {
		ni = &framework.NodeInfo{}
	} else {
		ni = ni.Clone()
	}
	ni.AddPod(pi)
	c.put(name, ni)
	c.pods[pi.Pod.UID] = cachedPod{node: name, assumed: assumed}
}

func (c *nodeCache) removeLocked(uid types.UID) {
	cp, ok := c.pods[uid]
	if !ok {
		return
	}
	delete(c.pods, uid)
	ni := c.nodes[cp.node]
	if ni == nil {
		return
	}
	ni = ni.Clone()
	ni.RemovePod(uid)
	if ni.Node == nil && len(ni.Pods) == 0 {
		c.drop(cp.node)
		return
	}
	c.put(cp.node, ni)
}
