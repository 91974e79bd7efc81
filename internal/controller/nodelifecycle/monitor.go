package nodelifecycle

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Reasons of the events this controller records on nodes, as upstream.
const (
	EventRegisteredNode = "RegisteredNode"
	EventRemovingNode   = "RemovingNode"
	EventNodeNotReady   = "NodeNotReady"
)

// monitorNodes is one pass over every node: health, the Unknown
// conditions of silent nodes and the not-ready marks of their pods, the
// NoExecute taints, and the zone states.
func (c *Controller) monitorNodes(ctx context.Context) {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		c.log.Error("list nodes", "err", err)
		return
	}
	c.forgetDeletedNodes(nodes)
	zones := map[string][]corev1.ConditionStatus{}
	for _, node := range nodes {
		if ctx.Err() != nil {
			return
		}
		if _, known := c.health[node.Name]; !known {
			c.recordNodeEvent(node.Name, corev1.EventTypeNormal, EventRegisteredNode,
				"Node %s event: Registered Node %s in Controller", node.Name, node.Name)
		}
		res, err := c.updateHealth(ctx, node)
		if node.Labels[excludeDisruptionLabel] == "" {
			zone := zoneKey(node)
			zones[zone] = append(zones[zone], readyStatus(res.after))
		}
		if err != nil {
			c.log.Info("updating node health failed, will retry", "node", node.Name, "err", err)
			continue
		}
		if res.after == nil {
			continue // still starting, within its startup grace period
		}
		if readyStatus(res.before) == corev1.ConditionTrue && res.after.Status != corev1.ConditionTrue {
			c.log.Info("node stopped posting status", "node", node.Name, "ready", res.after.Status)
			c.recordNodeEvent(node.Name, corev1.EventTypeNormal, EventNodeNotReady,
				"Node %s status is now: %s", node.Name, EventNodeNotReady)
		}
		if res.expired {
			c.markPodsNotReady(ctx, node.Name)
		}
		if err := c.reconcileNoExecute(ctx, node, res.after); err != nil {
			c.log.Info("updating NoExecute taints failed, will retry", "node", node.Name, "err", err)
		}
	}
	c.handleDisruption(ctx, zones, nodes)
}

// forgetDeletedNodes drops what the monitor kept about nodes no longer in
// nodes.
func (c *Controller) forgetDeletedNodes(nodes []*corev1.Node) {
	present := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		present[n.Name] = true
	}
	for name := range c.health {
		if present[name] {
			continue
		}
		delete(c.health, name)
		for _, t := range c.tainters {
			t.remove(name)
		}
		c.recordNodeEvent(name, corev1.EventTypeNormal, EventRemovingNode,
			"Node %s event: Removing Node %s from Controller", name, name)
	}
}

func (c *Controller) recordNodeEvent(node, eventType, reason, format string, args ...any) {
	// The node's name as UID, as the kubelet records node events, so
	// `kubectl describe node` finds them.
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node, UID: types.UID(node)}
	c.recorder.Eventf(ref, eventType, reason, format, args...)
}

// syncNoScheduleTaints makes node name's managed NoSchedule taints match
// its conditions and spec.unschedulable.
func (c *Controller) syncNoScheduleTaints(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.updateTaints(ctx, node, noScheduleTaintDiff)
}
