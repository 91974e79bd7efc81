package plugins

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// matchTerms says whether node matches any of terms (terms are ORed).
func matchTerms(terms []corev1.NodeSelectorTerm, node *corev1.Node) bool {
	for i := range terms {
		if matchTerm(&terms[i], node) {
			return true
		}
	}
	return false
}

// matchTerm says whether node matches every expression and field of a
// term. A term with neither matches nothing.
func matchTerm(t *corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for i := range t.MatchExpressions {
		r := &t.MatchExpressions[i]
		v, ok := node.Labels[r.Key]
		if !matchRequirement(r, v, ok) {
			return false
		}
	}
	for i := range t.MatchFields {
		r := &t.MatchFields[i]
		// metadata.name is the only field a node selector may name.
		if r.Key != "metadata.name" {
			return false
		}
		if !matchRequirement(r, node.Name, true) {
			return false
		}
	}
	return true
}

// matchRequirement evaluates one requirement against a value (present
// says whether the label exists at all).
func matchRequirement(r *corev1.NodeSelectorRequirement, value string, present bool) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return present && slices.Contains(r.Values, value)
	case corev1.NodeSelectorOpNotIn:
		return !present || !slices.Contains(r.Values, value)
	case corev1.NodeSelectorOpExists:
		return present
	case corev1.NodeSelectorOpDoesNotExist:
		return !present
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !present || len(r.Values) != 1 {
			return false
		}
		have, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return false
		}
		want, err := strconv.ParseInt(r.Values[0], 10, 64)
		if err != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return have > want
		}
		return have < want
	}
	return false
}
