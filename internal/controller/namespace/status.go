package namespace

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Condition reasons, as the Kubernetes namespace controller writes them,
// so that kubectl describe reads the same.
const (
	reasonDiscoveryFailed      = "DiscoveryFailed"
	reasonResourcesDiscovered  = "ResourcesDiscovered"
	reasonParsedGroupVersions  = "ParsedGroupVersions"
	reasonContentDeleteFailed  = "ContentDeletionFailed"
	reasonContentDeleted       = "ContentDeleted"
	reasonSomeResourcesRemain  = "SomeResourcesRemain"
	reasonContentRemoved       = "ContentRemoved"
	reasonSomeFinalizersRemain = "SomeFinalizersRemain"
	reasonNoFinalizers         = "ContentHasNoFinalizers"
)

// deletionConditions are the namespace conditions that describe res, one
// per deletion condition type, True where something is wrong. They carry
// no transition time; mergeConditions stamps it.
func deletionConditions(res *deletionResult) []corev1.NamespaceCondition {
	cond := func(t corev1.NamespaceConditionType, bad bool, badReason, badMsg, okReason, okMsg string) corev1.NamespaceCondition {
		if bad {
			return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: badReason, Message: badMsg}
		}
		return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReason, Message: okMsg}
	}
	var discoveryMsg string
	if res.discoveryErr != nil {
		discoveryMsg = "Discovery failed for some groups: " + res.discoveryErr.Error()
	}
	return []corev1.NamespaceCondition{
		cond(corev1.NamespaceDeletionDiscoveryFailure, res.discoveryErr != nil,
			reasonDiscoveryFailed, discoveryMsg,
			reasonResourcesDiscovered, "All resources successfully discovered"),
		cond(corev1.NamespaceDeletionGVParsingFailure, false, "", "",
			reasonParsedGroupVersions, "All legacy kube types successfully parsed"),
		cond(corev1.NamespaceDeletionContentFailure, len(res.failures) > 0,
			reasonContentDeleteFailed, fmt.Sprintf("Failed to delete all resource types, %d remaining: %s",
				len(res.failures), strings.Join(res.failures, ", ")),
			reasonContentDeleted, "All content successfully deleted, may be waiting on finalization"),
		cond(corev1.NamespaceContentRemaining, len(res.remaining) > 0,
			reasonSomeResourcesRemain, "Some resources are remaining: "+strings.Join(remainingMessages(res.remaining), ", "),
			reasonContentRemoved, "All content successfully removed"),
		cond(corev1.NamespaceFinalizersRemaining, len(res.finalizers) > 0,
			reasonSomeFinalizersRemain, "Some content in the namespace has finalizers remaining: "+strings.Join(finalizerMessages(res.finalizers), ", "),
			reasonNoFinalizers, "All content-preserving finalizers finished"),
	}
}

// remainingMessages renders per-resource counts, sorted.
func remainingMessages(remaining map[schema.GroupResource]int) []string {
	out := make([]string, 0, len(remaining))
	for gr, n := range remaining {
		out = append(out, fmt.Sprintf("%s has %d resource instances", gr, n))
	}
	sort.Strings(out)
	return out
}

// finalizerMessages renders per-finalizer counts, sorted.
func finalizerMessages(finalizers map[string]int) []string {
	out := make([]string, 0, len(finalizers))
	for f, n := range finalizers {
		out = append(out, fmt.Sprintf("%s in %d resource instances", f, n))
	}
	sort.Strings(out)
	return out
}

// mergeConditions returns old with each of want set in it, and whether
// anything changed. A condition whose status changes gets now as its
// transition time; one that only changes reason or message keeps it.
// Conditions of other types are kept. old is not modified.
func mergeConditions(old, want []corev1.NamespaceCondition, now metav1.Time) ([]corev1.NamespaceCondition, bool) {
	out := append([]corev1.NamespaceCondition(nil), old...)
	changed := false
	for _, w := range want {
		i := indexOf(out, w.Type)
		if i < 0 {
			w.LastTransitionTime = now
			out = append(out, w)
			changed = true
			continue
		}
		cur := out[i]
		if cur.Status == w.Status && cur.Reason == w.Reason && cur.Message == w.Message {
			continue
		}
		w.LastTransitionTime = cur.LastTransitionTime
		if cur.Status != w.Status {
			w.LastTransitionTime = now
		}
		out[i] = w
		changed = true
	}
	return out, changed
}

func indexOf(conds []corev1.NamespaceCondition, t corev1.NamespaceConditionType) int {
	for i := range conds {
		if conds[i].Type == t {
			return i
		}
	}
	return -1
}

// updateStatus writes the conditions for res (and phase Terminating) to
// ns when they differ from what it has, and returns the namespace as
// stored.
func (c *Controller) updateStatus(ctx context.Context, ns *corev1.Namespace, res *deletionResult) (*corev1.Namespace, error) {
	conds, changed := mergeConditions(ns.Status.Conditions, deletionConditions(res), metav1.NewTime(c.clock.Now()))
	if !changed && ns.Status.Phase == corev1.NamespaceTerminating {
		return ns, nil
	}
	cp := ns.DeepCopy()
	cp.Status.Phase = corev1.NamespaceTerminating
	cp.Status.Conditions = conds
	return c.client.CoreV1().Namespaces().UpdateStatus(ctx, cp, metav1.UpdateOptions{})
}
