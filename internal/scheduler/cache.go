package scheduler

import (
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// nodeCache is the scheduler's view of nodes and the pods on them, fed by the
// informers plus *assumed* pods: pods the scheduler has placed whose
// binding the informer has not confirmed yet, so the next decision already
// counts them. NodeInfos are copy-on-write: a Snapshot taken earlier never
// changes under the scheduling goroutine.
type nodeCache struct {
	mu sync.Mutex
	// nodes by name; a NodeInfo with a nil Node holds pods of a node the
	// informer has not shown (yet, or any more) and is left out of
	// snapshots.
	nodes map[string]*framework.NodeInfo
	pods  map[types.UID]cachedPod
	// sorted is the snapshot order, rebuilt when nodes come or go.
	sorted []string
	dirty  bool
}

type cachedPod struct {
	node    string
	assumed bool
}

func newNodeCache() *nodeCache {
	return &nodeCache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]cachedPod{}}
}

// SetNode adds or updates a node.
func (c *nodeCache) SetNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.nodes[node.Name]
	if ni == nil {
		c.nodes[node.Name] = framework.NewNodeInfo(node)
		c.dirty = true
		return
	}
	if ni.Node == nil {
		c.dirty = true
	}
	ni = ni.Clone()
	ni.SetNode(node)
	c.nodes[node.Name] = ni
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
		delete(c.nodes, name)
		return
	}
	ni = ni.Clone()
	ni.Node = nil
	c.nodes[name] = ni
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

// Snapshot returns the current nodes in name order. The NodeInfos are
// shared and must not be changed.
func (c *nodeCache) Snapshot() *framework.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty {
		c.sorted = c.sorted[:0]
		for name, ni := range c.nodes {
			if ni.Node != nil {
				c.sorted = append(c.sorted, name)
			}
		}
		sort.Strings(c.sorted)
		c.dirty = false
	}
	s := &framework.Snapshot{Nodes: make([]*framework.NodeInfo, len(c.sorted))}
	for i, name := range c.sorted {
		s.Nodes[i] = c.nodes[name]
	}
	return s
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
	c.nodes[name] = ni
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
		delete(c.nodes, cp.node)
		return
	}
	c.nodes[cp.node] = ni
}
