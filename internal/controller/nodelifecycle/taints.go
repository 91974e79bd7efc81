package nodelifecycle

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The NoExecute taints this controller puts on nodes that are not ready
// (the kubelet says so) or unreachable (the kubelet says nothing).
var (
	notReadyNoExecute    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	unreachableNoExecute = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
)

// conditionTaintKeys maps a node condition in a given status to the key of
// the NoSchedule taint it calls for (taint-nodes-by-condition).
var conditionTaintKeys = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
	corev1.NodeReady: {
		corev1.ConditionFalse:   corev1.TaintNodeNotReady,
		corev1.ConditionUnknown: corev1.TaintNodeUnreachable,
	},
	corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
	corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
	corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
	corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
}

// managedNoScheduleKey reports whether a NoSchedule taint with key is this
// controller's to add and remove.
func managedNoScheduleKey(key string) bool {
	if key == corev1.TaintNodeUnschedulable {
		return true
	}
	for _, byStatus := range conditionTaintKeys {
		for _, k := range byStatus {
			if k == key {
				return true
			}
		}
	}
	return false
}

// desiredNoScheduleTaints is the NoSchedule taints node's conditions and
// spec.unschedulable call for, sorted by key.
func desiredNoScheduleTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, c := range node.Status.Conditions {
		if key, ok := conditionTaintKeys[c.Type][c.Status]; ok {
			out = append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	slices.SortFunc(out, func(a, b corev1.Taint) int { return cmp.Compare(a.Key, b.Key) })
	return slices.CompactFunc(out, func(a, b corev1.Taint) bool { return a.Key == b.Key })
}

// noScheduleTaintDiff is what to add to and remove from node's taints so
// its managed NoSchedule taints are the desired ones.
func noScheduleTaintDiff(node *corev1.Node) (add, remove []corev1.Taint) {
	desired := desiredNoScheduleTaints(node)
	for _, t := range desired {
		if !hasTaint(node.Spec.Taints, t) {
			add = append(add, t)
		}
	}
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && managedNoScheduleKey(t.Key) && !hasTaint(desired, t) {
			remove = append(remove, t)
		}
	}
	return add, remove
}

// applyTaints returns taints without those matching remove (by key and
// effect) and with those of add not yet present appended, stamped with
// now; and whether that changed anything. Other taints keep their place.
func applyTaints(taints, add, remove []corev1.Taint, now metav1.Time) ([]corev1.Taint, bool) {
	out := make([]corev1.Taint, 0, len(taints)+len(add))
	changed := false
	for _, t := range taints {
		if hasTaint(remove, t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	for _, t := range add {
		if hasTaint(out, t) {
			continue
		}
		t.TimeAdded = &now
		out = append(out, t)
		changed = true
	}
	return out, changed
}

// taintUpdateRetries bounds the conflict retries of one taint write.
const taintUpdateRetries = 5

// updateTaints rewrites node's taints as diff says, with the node's
// resourceVersion as precondition so no one else's taints are lost. It
// starts from node (a cached object; not modified) and, after a conflict,
// from a fresh read, asking diff again each time. A deleted node is not
// an error.
func (c *Controller) updateTaints(ctx context.Context, node *corev1.Node, diff func(*corev1.Node) (add, remove []corev1.Taint)) error {
	name := node.Name
	for attempt := 0; ; attempt++ {
		add, remove := diff(node)
		taints, changed := applyTaints(node.Spec.Taints, add, remove, metav1.NewTime(c.now()))
		if !changed {
			return nil
		}
		cp := node.DeepCopy()
		cp.Spec.Taints = taints
		_, err := c.client.CoreV1().Nodes().Update(ctx, cp, metav1.UpdateOptions{})
		switch {
		case err == nil:
			c.log.Info("updated node taints", "node", node.Name, "added", taintStrings(add), "removed", taintStrings(remove))
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err) || attempt+1 >= taintUpdateRetries:
			return fmt.Errorf("update taints of node %s: %w", name, err)
		}
		node, err = c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("update taints of node %s: %w", name, err)
		}
	}
}

// swapTaints is a diff for updateTaints with fixed taints to add and
// remove.
func swapTaints(add []corev1.Taint, remove ...corev1.Taint) func(*corev1.Node) ([]corev1.Taint, []corev1.Taint) {
	return func(*corev1.Node) ([]corev1.Taint, []corev1.Taint) { return add, remove }
}

// hasTaint reports whether taints holds one with t's key and effect.
func hasTaint(taints []corev1.Taint, t corev1.Taint) bool {
	return slices.ContainsFunc(taints, func(x corev1.Taint) bool { return x.Key == t.Key && x.Effect == t.Effect })
}

// noExecuteTaints is node's NoExecute taints, in order.
func noExecuteTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func sameTaints(a, b []corev1.Taint) bool { return equality.Semantic.DeepEqual(a, b) }

func sameTolerations(a, b []corev1.Toleration) bool { return equality.Semantic.DeepEqual(a, b) }

func taintStrings(ts []corev1.Taint) []string {
	out := make([]string, len(ts))
	for i := range ts {
		out[i] = ts[i].ToString()
	}
	return out
}
