package nodelifecycle

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons and messages of the conditions this controller sets Unknown,
// as upstream writes them.
const (
	ReasonNodeStatusUnknown       = "NodeStatusUnknown"
	MessageNodeStatusUnknown      = "Kubelet stopped posting node status."
	ReasonNodeStatusNeverUpdated  = "NodeStatusNeverUpdated"
	MessageNodeStatusNeverUpdated = "Kubelet never posted node status."
)

// monitoredConditions are the kubelet's conditions that go Unknown when
// the kubelet stops posting.
var monitoredConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// statusUpdateRetries bounds the conflict retries of one status write; the
// next monitor pass tries again anyway.
const statusUpdateRetries = 5

// nodeHealth is what the monitor remembers of a node between passes. Only
// the heartbeats' changes matter, never their values as times: the
// kubelet's clock may be skewed from this controller's.
type nodeHealth struct {
	// probeTime is when this controller last saw a heartbeat change, on
	// its own clock.
	probeTime      time.Time
	hasReady       bool
	readyHeartbeat metav1.Time
	hasLease       bool
	leaseRenew     metav1.MicroTime
}

// observe returns the health of node after seeing it, and its lease (nil
// when it has none), at now. A node seen for the first time (h nil) is
// given a full grace period from now.
func observe(h *nodeHealth, node *corev1.Node, lease *coordinationv1.Lease, now time.Time) *nodeHealth {
	next := &nodeHealth{probeTime: now}
	if h != nil {
		next.probeTime = h.probeTime
	}
	if c := findNodeCondition(node.Status.Conditions, corev1.NodeReady); c != nil {
		next.hasReady, next.readyHeartbeat = true, c.LastHeartbeatTime
	}
	if lease != nil && lease.Spec.RenewTime != nil {
		next.hasLease, next.leaseRenew = true, *lease.Spec.RenewTime
	}
	if h == nil {
		return next
	}
	readyChanged := next.hasReady != h.hasReady || !next.readyHeartbeat.Equal(&h.readyHeartbeat)
	leaseChanged := next.hasLease && (!h.hasLease || !next.leaseRenew.Equal(&h.leaseRenew))
	if readyChanged || leaseChanged {
		next.probeTime = now
	}
	return next
}

// expired reports whether no heartbeat was seen within grace before now.
func (h *nodeHealth) expired(grace time.Duration, now time.Time) bool {
	return now.After(h.probeTime.Add(grace))
}

// gracePeriod is how long node may go without a heartbeat: longer while
// it has never posted a Ready condition (it is still starting).
func (c *Controller) gracePeriod(node *corev1.Node) time.Duration {
	if findNodeCondition(node.Status.Conditions, corev1.NodeReady) == nil {
		return c.opts.NodeStartupGracePeriod
	}
	return c.opts.NodeMonitorGracePeriod
}

// markUnknown sets node's monitored conditions Unknown, adding those the
// kubelet never posted, and reports whether anything changed. Conditions
// already Unknown are left as they are, transition time included.
func markUnknown(node *corev1.Node, now metav1.Time) bool {
	changed := false
	for _, t := range monitoredConditions {
		c := findNodeCondition(node.Status.Conditions, t)
		switch {
		case c == nil:
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type:               t,
				Status:             corev1.ConditionUnknown,
				Reason:             ReasonNodeStatusNeverUpdated,
				Message:            MessageNodeStatusNeverUpdated,
				LastHeartbeatTime:  node.CreationTimestamp,
				LastTransitionTime: now,
			})
		case c.Status != corev1.ConditionUnknown:
			c.Status = corev1.ConditionUnknown
			c.Reason = ReasonNodeStatusUnknown
			c.Message = MessageNodeStatusUnknown
			c.LastTransitionTime = now
		default:
			continue
		}
		changed = true
	}
	return changed
}

// healthResult is one node's outcome of a monitor pass.
type healthResult struct {
	// before is the Ready condition as the pass found it, after as it
	// left it (both nil when the node has none).
	before, after *corev1.NodeCondition
	// expired: no heartbeat within the grace period.
	expired bool
}

// updateHealth observes node and, when its grace period has run out,
// writes its conditions Unknown. On a conflict it reads the node again
// and decides anew: the kubelet may just have posted.
func (c *Controller) updateHealth(ctx context.Context, node *corev1.Node) (healthResult, error) {
	lease := c.nodeLease(node.Name)
	res := healthResult{before: findNodeCondition(node.Status.Conditions, corev1.NodeReady)}
	for attempt := 0; ; attempt++ {
		now := c.now()
		h := observe(c.health[node.Name], node, lease, now)
		c.health[node.Name] = h
		res.after = findNodeCondition(node.Status.Conditions, corev1.NodeReady)
		res.expired = h.expired(c.gracePeriod(node), now)
		if !res.expired {
			return res, nil
		}
		cp := node.DeepCopy()
		if !markUnknown(cp, metav1.NewTime(now)) {
			return res, nil
		}
		updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, cp, metav1.UpdateOptions{})
		if err == nil {
			res.after = findNodeCondition(updated.Status.Conditions, corev1.NodeReady)
			return res, nil
		}
		if !apierrors.IsConflict(err) || attempt+1 >= statusUpdateRetries {
			return res, err
		}
		if node, err = c.client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); err != nil {
			return res, err
		}
	}
}

// nodeLease is the node's heartbeat lease from the cache, or nil.
func (c *Controller) nodeLease(node string) *coordinationv1.Lease {
	l, err := c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(node)
	if err != nil {
		return nil
	}
	return l
}

// findNodeCondition returns a pointer into conds to the condition of type
// t, or nil.
func findNodeCondition(conds []corev1.NodeCondition, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// readyStatus is the status of the node's Ready condition, "" if none.
func readyStatus(c *corev1.NodeCondition) corev1.ConditionStatus {
	if c == nil {
		return ""
	}
	return c.Status
}
