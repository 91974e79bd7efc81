package framework

import (
	"hash/maphash"
	"slices"
	"sort"
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// PodInfo is a pod with what the plugins need from it computed once.
// It never modifies Pod, which may be shared with an informer cache.
type PodInfo struct {
	Pod *corev1.Pod
	// Requests is what the pod occupies (see PodRequests); NonZero the
	// same with scoring defaults for unset cpu/memory.
	Requests Resource
	NonZero  Resource
	// HostPorts the pod's containers bind on the node.
	HostPorts []HostPort
	// Controller is the UID of the pod's controller ownerReference, if any.
	Controller types.UID
	// controller is the pod's ControllerKey interned (zero if Controller
	// is ""), what NodeInfos count pods by.
	controller controllerHandle
	// Affinity is the pod's inter-pod (anti-)affinity, parsed; nil if none.
	Affinity *AffinityTerms
}

// HostPort is a port bound on the node's network.
type HostPort struct {
	IP       string // "" or 0.0.0.0 means every address
	Protocol corev1.Protocol
	Port     int32
}

// Conflicts says whether two host ports cannot be bound together.
func (a HostPort) Conflicts(b HostPort) bool {
	if a.Port != b.Port || a.Protocol != b.Protocol {
		return false
	}
	wild := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return wild(a.IP) || wild(b.IP) || a.IP == b.IP
}

// NewPodInfo computes a PodInfo.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod}
	pi.Requests, pi.NonZero = PodRequests(pod)
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				pi.HostPorts = append(pi.HostPorts, HostPort{IP: p.HostIP, Protocol: proto, Port: p.HostPort})
			}
		}
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil && ref.UID != "" {
		pi.Controller = ref.UID
		pi.controller = internController(pi.ControllerKey())
	}
	pi.Affinity = NewAffinityTerms(pod)
	return pi
}

// NodeInfo is a node and the pods assigned (or assumed) to it, with their
// sums. A NodeInfo inside a Snapshot is read-only; change a Clone.
type NodeInfo struct {
	Node *corev1.Node
	// Allocatable from node status; AllowedPods its pods count.
	Allocatable Resource
	AllowedPods int64
	// Unschedulable and Taints are the node's spec.unschedulable and
	// spec.taints (shared, read-only), kept here so that filtering a pod
	// without node selectors reads the NodeInfo only: on a large cluster
	// the Node object is a cache miss per node per decision.
	Unschedulable bool
	Taints        []corev1.Taint
	// Requested is the sum of the pods' Requests, NonZeroRequested of their
	// NonZero amounts.
	Requested        Resource
	NonZeroRequested Resource
	Pods             []*PodInfo
	UsedPorts        []HostPort
	// PodsWithAffinity are the Pods with inter-pod (anti-)affinity terms,
	// PodsWithRequiredAntiAffinity those with required anti-affinity: the
	// few pods whose terms every decision must check (symmetry).
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	// controllers counts the node's pods per controller, so spreading a
	// pod's replicas (ControllerPods) costs a look at the node rather
	// than a walk of its pods. OwnerSpread asks every node for every pod,
	// so it is not a map by ControllerKey, which on a large cluster cost
	// a hash of two strings and cache misses into a table of its own (and
	// the key strings) per node per pod; it is a list by interned key
	// (one entry per controller, at most one per pod), compared as
	// pointers. controllerBits summarizes it, with each entry's bit set:
	// a pod whose bit is clear has no sibling on the node, the answer for
	// most nodes (a controller's few replicas run on few of many nodes),
	// given without reading the list.
	controllers    []controllerCount
	controllerBits [4]uint64
}

// controllerHandle is a ControllerKey interned: the pods of one
// controller share key, so comparing two is comparing pointers. Package
// unique frees an interned key once no handle to it is left, so the
// table holds only the controllers of PodInfos still in use (cache,
// queue, snapshots): nothing to count or release by hand. bit is a hash
// of the UID in [0, 256), the key's bit in NodeInfo.controllerBits.
type controllerHandle struct {
	key unique.Handle[ControllerKey]
	bit uint8
}

// controllerBitSeed seeds the hash controllerHandle.bit is from; the bits
// only decide which nodes' lists are read, never a count.
var controllerBitSeed = maphash.MakeSeed()

// internController interns k, once per PodInfo (NewPodInfo).
func internController(k ControllerKey) controllerHandle {
	return controllerHandle{key: unique.Make(k), bit: uint8(maphash.String(controllerBitSeed, string(k.UID)))}
}

// controllerCount is how many of a node's pods a controller owns.
type controllerCount struct {
	key unique.Handle[ControllerKey]
	bit uint8
	n   int32
}

// ControllerKey names a controller by its namespace and UID (an owner
// reference naming a UID in another namespace is not the same owner).
type ControllerKey struct {
	Namespace string
	UID       types.UID
}

// ControllerKey returns the key of the pod's controller ("" UID if none).
func (p *PodInfo) ControllerKey() ControllerKey {
	return ControllerKey{Namespace: p.Pod.Namespace, UID: p.Controller}
}

// interned returns the pod's interned ControllerKey, interning it now
// for a PodInfo not made by NewPodInfo. Call it only if p.Controller is
// set.
func (p *PodInfo) interned() controllerHandle {
	if p.controller.key == (unique.Handle[ControllerKey]{}) {
		return internController(p.ControllerKey())
	}
	return p.controller
}

// ControllerPods returns how many of the node's pods have the namespace
// and controller of p (0 if p has no controller).
func (n *NodeInfo) ControllerPods(p *PodInfo) int32 {
	if p.Controller == "" {
		return 0
	}
	h := p.interned()
	if n.controllerBits[h.bit>>6]&(1<<(h.bit&63)) == 0 {
		return 0
	}
	for _, c := range n.controllers {
		if c.key == h.key {
			return c.n
		}
	}
	return 0
}

// NewNodeInfo returns a NodeInfo for node with the given pods.
func NewNodeInfo(node *corev1.Node, pods ...*PodInfo) *NodeInfo {
	ni := &NodeInfo{}
	ni.SetNode(node)
	for _, p := range pods {
		ni.AddPod(p)
	}
	return ni
}

// Name is the node's name.
func (n *NodeInfo) Name() string { return n.Node.Name }

// SetNode replaces the node object (its pods stay).
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Unschedulable, n.Taints = node.Spec.Unschedulable, node.Spec.Taints
	n.Allocatable = NewResource(node.Status.Allocatable)
	n.AllowedPods = 0
	if q, ok := node.Status.Allocatable[corev1.ResourcePods]; ok {
		n.AllowedPods = q.Value()
	}
}

// AddPod charges a pod to the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	n.Requested.Add(p.Requests)
	n.NonZeroRequested.MilliCPU += p.NonZero.MilliCPU
	n.NonZeroRequested.Memory += p.NonZero.Memory
	n.UsedPorts = append(n.UsedPorts, p.HostPorts...)
	if p.Controller != "" {
		n.addController(p.interned())
	}
	if p.Affinity != nil {
		n.PodsWithAffinity = append(n.PodsWithAffinity, p)
		if len(p.Affinity.RequiredAnti) > 0 {
			n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, p)
		}
	}
}

// RemovePod removes the pod with uid and reports whether it was there.
func (n *NodeInfo) RemovePod(uid types.UID) bool {
	for i, p := range n.Pods {
		if p.Pod.UID != uid {
			continue
		}
		n.Pods = append(n.Pods[:i:i], n.Pods[i+1:]...)
		n.Requested.Sub(p.Requests)
		n.NonZeroRequested.MilliCPU -= p.NonZero.MilliCPU
		n.NonZeroRequested.Memory -= p.NonZero.Memory
		n.UsedPorts = n.UsedPorts[:0:0]
		for _, q := range n.Pods {
			n.UsedPorts = append(n.UsedPorts, q.HostPorts...)
		}
		if p.Controller != "" {
			n.removeController(p.interned())
		}
		if p.Affinity != nil {
			n.PodsWithAffinity = withoutPod(n.PodsWithAffinity, uid)
			n.PodsWithRequiredAntiAffinity = withoutPod(n.PodsWithRequiredAntiAffinity, uid)
		}
		return true
	}
	return false
}

// Clone returns a copy whose sums and slices can be changed without
// touching n (the node and pod objects are shared, read-only).
func (n *NodeInfo) Clone() *NodeInfo {
	c := *n
	c.Allocatable = n.Allocatable.Clone()
	c.Requested = n.Requested.Clone()
	c.Pods = append([]*PodInfo(nil), n.Pods...)
	c.UsedPorts = append([]HostPort(nil), n.UsedPorts...)
	c.PodsWithAffinity = append([]*PodInfo(nil), n.PodsWithAffinity...)
	c.PodsWithRequiredAntiAffinity = append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...)
	c.controllers = slices.Clone(n.controllers)
	return &c
}

// addController counts one more pod of controller h.
func (n *NodeInfo) addController(h controllerHandle) {
	for i := range n.controllers {
		if n.controllers[i].key == h.key {
			n.controllers[i].n++
			return
		}
	}
	n.controllers = append(n.controllers, controllerCount{key: h.key, bit: h.bit, n: 1})
	n.controllerBits[h.bit>>6] |= 1 << (h.bit & 63)
}

// removeController counts one pod of controller h less, and forgets the
// controller at none: the last entry takes its place (order does not
// matter) and the summary bits are set again from the entries left, as
// others may share its bit.
func (n *NodeInfo) removeController(h controllerHandle) {
	for i := range n.controllers {
		if n.controllers[i].key != h.key {
			continue
		}
		if n.controllers[i].n--; n.controllers[i].n > 0 {
			return
		}
		last := len(n.controllers) - 1
		n.controllers[i] = n.controllers[last]
		n.controllers = n.controllers[:last]
		n.controllerBits = [4]uint64{}
		for _, c := range n.controllers {
			n.controllerBits[c.bit>>6] |= 1 << (c.bit & 63)
		}
		return
	}
}

// withoutPod returns pods less the one with uid, in a new array (the old
// one may be shared with a snapshot).
func withoutPod(pods []*PodInfo, uid types.UID) []*PodInfo {
	out := pods[:0:0]
	for _, p := range pods {
		if p.Pod.UID != uid {
			out = append(out, p)
		}
	}
	return out
}

// Snapshot is the read-only cluster state one decision is made against:
// nodes sorted by name, which is also the order ties are broken in.
type Snapshot struct {
	Nodes []*NodeInfo
	// withAffinity are the Nodes that hold pods with inter-pod
	// (anti-)affinity terms, in Nodes' order, when affinityKnown; a cache
	// that tracks them sets them (SetWithAffinity) so a cycle need not
	// visit every node to find them.
	withAffinity  []*NodeInfo
	affinityKnown bool
	// Namespaces are the labels of each namespace, for affinity terms'
	// namespaceSelectors; nil when the caller does not track namespaces
	// (see AffinityTerm.MatchesNamespace for what a selector does then).
	Namespaces map[string]labels.Set
}

// WithAffinity returns the nodes that hold pods with inter-pod
// (anti-)affinity terms, in Nodes' order.
func (s *Snapshot) WithAffinity() []*NodeInfo {
	if s.affinityKnown {
		return s.withAffinity
	}
	var out []*NodeInfo
	for _, ni := range s.Nodes {
		if len(ni.PodsWithAffinity) > 0 {
			out = append(out, ni)
		}
	}
	return out
}

// SetWithAffinity records the nodes WithAffinity returns; nodes must be
// exactly the Nodes with such pods, in Nodes' order.
func (s *Snapshot) SetWithAffinity(nodes []*NodeInfo) {
	s.withAffinity, s.affinityKnown = nodes, true
}

// NodesReplaced says that entries of Nodes were replaced (by clones with
// more pods): the recorded nodes with affinity pods no longer hold, and
// WithAffinity finds them again by visiting every node.
func (s *Snapshot) NodesReplaced() {
	s.withAffinity, s.affinityKnown = nil, false
}

// NewSnapshot builds a snapshot from objects: pods count against the node
// named by spec.nodeName; pods of unknown nodes and terminal pods
// (Succeeded, Failed) are left out, as they hold no resources.
func NewSnapshot(nodes []*corev1.Node, pods []*corev1.Pod) *Snapshot {
	byName := make(map[string]*NodeInfo, len(nodes))
	s := &Snapshot{Nodes: make([]*NodeInfo, 0, len(nodes))}
	for _, n := range nodes {
		ni := NewNodeInfo(n)
		byName[n.Name] = ni
		s.Nodes = append(s.Nodes, ni)
	}
	for _, p := range pods {
		if ni := byName[p.Spec.NodeName]; ni != nil && !IsTerminal(p) {
			ni.AddPod(NewPodInfo(p))
		}
	}
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name() < s.Nodes[j].Name() })
	return s
}

// IsTerminal says whether a pod has finished and so holds no resources.
func IsTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
