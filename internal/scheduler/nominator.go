package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// nominator remembers the pending pods nominated to a node: preemptors
// waiting for their victims to go, whose room on that node other pods of
// lower priority must not take. A nomination is made by this scheduler's
// preemption, or read from status.nominatedNodeName (after a restart). It
// is safe for concurrent use by the informer handlers and the scheduling
// goroutine.
type nominator struct {
	mu     sync.Mutex
	byPod  map[types.UID]*nominatedPod
	byNode map[string]map[types.UID]*nominatedPod
}

type nominatedPod struct {
	node string
	info *framework.PodInfo
}

func newNominator() *nominator {
	return &nominator{byPod: map[types.UID]*nominatedPod{}, byNode: map[string]map[types.UID]*nominatedPod{}}
}

// Nominate records pod as nominated to node ("" forgets it).
func (n *nominator) Nominate(pod *corev1.Pod, node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setLocked(pod, node)
}

// Forget drops pod's nomination (bound, deleted, no longer ours).
func (n *nominator) Forget(uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(uid)
}

// Update follows a pending pod's status.nominatedNodeName. When neither
// old nor pod carries one, the nomination in memory stays: the status
// write that publishes it may not have arrived yet.
func (n *nominator) Update(old, pod *corev1.Pod) {
	n.mu.Lock()
	defer n.mu.Unlock()
	node := pod.Status.NominatedNodeName
	if node == "" && (old == nil || old.Status.NominatedNodeName == "") {
		cur := n.byPod[pod.UID]
		if cur == nil {
			return
		}
		node = cur.node
	}
	n.setLocked(pod, node)
}

// NodeOf is the node pod is nominated to, or "".
func (n *nominator) NodeOf(uid types.UID) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if np := n.byPod[uid]; np != nil {
		return np.node
	}
	return ""
}

// OnNode returns the pods nominated to node (the caller owns the slice).
func (n *nominator) OnNode(node string) []*corev1.Pod {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(n.byNode[node]))
	for _, np := range n.byNode[node] {
		out = append(out, np.info.Pod)
	}
	return out
}

// WithNominated returns snap with the pods nominated to each node charged
// to it, as upstream's filters see them: only pods of at least pod's
// priority, and never pod itself. Nodes without such pods are shared with
// snap; the others are clones.
func (n *nominator) WithNominated(snap *framework.Snapshot, pod *corev1.Pod) *framework.Snapshot {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.byPod) == 0 {
		return snap
	}
	prio := podPriority(pod)
	var out *framework.Snapshot
	for i, ni := range snap.Nodes {
		var clone *framework.NodeInfo
		for uid, np := range n.byNode[ni.Name()] {
			if uid == pod.UID || podPriority(np.info.Pod) < prio {
				continue
			}
			if clone == nil {
				clone = ni.Clone()
			}
			clone.AddPod(np.info)
		}
		if clone == nil {
			continue
		}
		if out == nil {
			cp := *snap // keeps whatever else the snapshot carries
			cp.Nodes = append([]*framework.NodeInfo(nil), snap.Nodes...)
			cp.NodesReplaced()
			out = &cp
		}
		out.Nodes[i] = clone
	}
	if out == nil {
		return snap
	}
	return out
}

func (n *nominator) setLocked(pod *corev1.Pod, node string) {
	n.removeLocked(pod.UID)
	if node == "" {
		return
	}
	np := &nominatedPod{node: node, info: framework.NewPodInfo(pod)}
	n.byPod[pod.UID] = np
	if n.byNode[node] == nil {
		n.byNode[node] = map[types.UID]*nominatedPod{}
	}
	n.byNode[node][pod.UID] = np
}

func (n *nominator) removeLocked(uid types.UID) {
	np := n.byPod[uid]
	if np == nil {
		return
	}
	delete(n.byPod, uid)
	delete(n.byNode[np.node], uid)
	if len(n.byNode[np.node]) == 0 {
		delete(n.byNode, np.node)
	}
}

// podPriority is spec.priority, 0 when unset (as upstream reads it).
func podPriority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}
