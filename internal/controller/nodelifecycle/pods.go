package nodelifecycle

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// markPodsNotReady sets the Ready condition of every pod on node that has
// one to False: its kubelet can no longer vouch for it, and endpoints must
// stop sending it traffic. It is called on every pass while the node is
// silent, so a failed write is simply retried; pods already not ready
// cost nothing.
func (c *Controller) markPodsNotReady(ctx context.Context, node string) {
	for _, p := range c.podsOnNode(node) {
		cond := findPodCondition(p.Status.Conditions, corev1.PodReady)
		if cond == nil || cond.Status == corev1.ConditionFalse {
			continue
		}
		err := c.patchPodCondition(ctx, p, corev1.PodCondition{
			Type:               corev1.PodReady,
			Status:             corev1.ConditionFalse,
			LastTransitionTime: metav1.NewTime(c.now()),
		})
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			continue // gone, or replaced by a pod of the same name
		case err != nil:
			c.log.Info("marking pod not ready failed, will retry", "pod", p.Namespace+"/"+p.Name, "err", err)
			continue
		}
		c.log.Info("marked pod not ready", "pod", p.Namespace+"/"+p.Name, "node", node)
		c.recorder.Event(p, corev1.EventTypeWarning, EventNodeNotReady, "Node is not ready")
	}
}

// patchPodCondition merges cond into the pod's status conditions (keyed by
// type, so the others are untouched); only its type, status, transition
// time and non-empty reason and message are sent, so the kubelet's other
// fields survive. The uid makes it fail with a conflict if the pod was
// replaced.
func (c *Controller) patchPodCondition(ctx context.Context, p *corev1.Pod, cond corev1.PodCondition) error {
	fields := map[string]any{"type": cond.Type, "status": cond.Status, "lastTransitionTime": cond.LastTransitionTime}
	if cond.Reason != "" {
		fields["reason"] = cond.Reason
	}
	if cond.Message != "" {
		fields["message"] = cond.Message
	}
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": p.UID},
		"status":   map[string]any{"conditions": []any{fields}},
	})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, body,
		metav1.PatchOptions{}, "status")
	return err
}

// findPodCondition returns a pointer into conds to the condition of type
// t, or nil.
func findPodCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
