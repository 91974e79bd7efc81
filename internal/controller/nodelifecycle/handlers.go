package nodelifecycle

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// The informer handlers only queue work: node names for the NoSchedule
// taint worker, pod keys for the eviction workers. The monitor loop needs
// no events; it looks at every node each period.

func (c *Controller) addNode(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.taintQueue.Add(n.Name)
		c.enqueuePodsOnNode(n.Name)
	}
}

func (c *Controller) updateNode(old, cur any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	c.taintQueue.Add(n.Name)
	c.evictions.pruneFirstSeen(n)
	if !sameTaints(noExecuteTaints(o), noExecuteTaints(n)) {
		c.enqueuePodsOnNode(n.Name)
	}
}

func (c *Controller) deleteNode(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if n, ok := obj.(*corev1.Node); ok {
		c.evictions.forgetNode(n.Name)
		// Its pods are podgc's now; dropping their scheduled evictions
		// is all that is left to do here.
		c.enqueuePodsOnNode(n.Name)
	}
}

func (c *Controller) addPod(obj any) {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		c.evictionQueue.Add(controllerutil.KeyOf(p))
	}
}

func (c *Controller) updatePod(old, cur any) {
	o, ok1 := old.(*corev1.Pod)
	p, ok2 := cur.(*corev1.Pod)
	if !ok1 || !ok2 || p.Spec.NodeName == "" {
		return
	}
	if o.Spec.NodeName != p.Spec.NodeName || !sameTolerations(o.Spec.Tolerations, p.Spec.Tolerations) ||
		(o.DeletionTimestamp == nil) != (p.DeletionTimestamp == nil) {
		c.evictionQueue.Add(controllerutil.KeyOf(p))
	}
}

func (c *Controller) deletePod(obj any) {
	if key := controllerutil.KeyOf(obj); key != "" {
		c.evictionQueue.Add(key)
	}
}

// enqueuePodsOnNode queues every cached pod bound to node for an eviction
// decision.
func (c *Controller) enqueuePodsOnNode(node string) {
	for _, p := range c.podsOnNode(node) {
		c.evictionQueue.Add(controllerutil.KeyOf(p))
	}
}

// podsOnNode is the cached pods bound to node; callers must not modify
// them.
func (c *Controller) podsOnNode(node string) []*corev1.Pod {
	objs, err := c.podIndexer.ByIndex(podNodeIndex, node)
	if err != nil {
		c.log.Error("list pods by node", "node", node, "err", err)
		return nil
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods
}
