package framework

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// AffinityTerm is a pod (anti-)affinity term ready to match against pods:
// selectors parsed once when the PodInfo is made, rather than by every
// scheduling cycle that meets the pod.
type AffinityTerm struct {
	TopologyKey string
	// Selector is the term's labelSelector with the owning pod's
	// matchLabelKeys (key in (value)) and mismatchLabelKeys (key notin
	// (value)) merged in; a nil labelSelector selects nothing.
	Selector labels.Selector
	// Namespaces are the ones the term lists, or the owning pod's own when
	// it lists none and has no namespaceSelector.
	Namespaces sets.Set[string]
	// NamespaceSelector selects further namespaces by their labels; nil
	// when the term has none. An empty one ({}) selects every namespace.
	NamespaceSelector labels.Selector
	// Weight of a preferred term; 0 for required ones.
	Weight int64
}

// AffinityTerms are a pod's inter-pod affinity and anti-affinity terms.
type AffinityTerms struct {
	Required, RequiredAnti   []AffinityTerm
	Preferred, PreferredAnti []AffinityTerm
	// Err says which terms had selectors that do not parse (the apiserver
	// rejects those, so only hand-made objects have them); such terms are
	// left out.
	Err error
}

// NewAffinityTerms parses pod's pod affinity and anti-affinity; it returns
// nil when the pod has neither.
func NewAffinityTerms(pod *corev1.Pod) *AffinityTerms {
	a := pod.Spec.Affinity
	if a == nil || (a.PodAffinity == nil && a.PodAntiAffinity == nil) {
		return nil
	}
	at := &AffinityTerms{}
	var errs []error
	add := func(dst *[]AffinityTerm, kind string, i int, t *corev1.PodAffinityTerm, weight int32) {
		term, err := newAffinityTerm(pod, t, int64(weight))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s term %d: %w", kind, i, err))
			return
		}
		*dst = append(*dst, term)
	}
	if pa := a.PodAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			add(&at.Required, "required pod affinity", i, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i], 0)
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &pa.PreferredDuringSchedulingIgnoredDuringExecution[i]
			add(&at.Preferred, "preferred pod affinity", i, &w.PodAffinityTerm, w.Weight)
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			add(&at.RequiredAnti, "required pod anti-affinity", i, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i], 0)
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &pa.PreferredDuringSchedulingIgnoredDuringExecution[i]
			add(&at.PreferredAnti, "preferred pod anti-affinity", i, &w.PodAffinityTerm, w.Weight)
		}
	}
	at.Err = errors.Join(errs...)
	if at.Err == nil && len(at.Required)+len(at.RequiredAnti)+len(at.Preferred)+len(at.PreferredAnti) == 0 {
		return nil
	}
	return at
}

func newAffinityTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm, weight int64) (AffinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return AffinityTerm{}, err
	}
	if t.LabelSelector != nil {
		if sel, err = mergeLabelKeys(sel, pod.Labels, t.MatchLabelKeys, selection.In); err != nil {
			return AffinityTerm{}, err
		}
		if sel, err = mergeLabelKeys(sel, pod.Labels, t.MismatchLabelKeys, selection.NotIn); err != nil {
			return AffinityTerm{}, err
		}
	}
	term := AffinityTerm{TopologyKey: t.TopologyKey, Selector: sel, Namespaces: sets.New(t.Namespaces...), Weight: weight}
	if t.NamespaceSelector != nil {
		if term.NamespaceSelector, err = metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
			return AffinityTerm{}, fmt.Errorf("namespaceSelector: %w", err)
		}
	} else if len(t.Namespaces) == 0 {
		term.Namespaces.Insert(pod.Namespace)
	}
	return term, nil
}

// mergeLabelKeys adds "key op (value)" to sel for each key the pod has a
// label for; keys it lacks are ignored, as the API documents.
func mergeLabelKeys(sel labels.Selector, podLabels map[string]string, keys []string, op selection.Operator) (labels.Selector, error) {
	for _, k := range keys {
		v, ok := podLabels[k]
		if !ok {
			continue
		}
		r, err := labels.NewRequirement(k, op, []string{v})
		if err != nil {
			return nil, err
		}
		sel = sel.Add(*r)
	}
	return sel, nil
}

// Matches says whether the term selects pod. nsLabels are the labels of
// pod's namespace, nil when they are not known (see
// Snapshot.NamespaceLabels).
func (t *AffinityTerm) Matches(pod *corev1.Pod, nsLabels labels.Set) bool {
	return t.MatchesNamespace(pod.Namespace, nsLabels) && t.Selector.Matches(labels.Set(pod.Labels))
}

// MatchesNamespace says whether the term applies to namespace ns. When its
// labels are unknown (nil), a namespaceSelector selects it only if the
// selector is empty ({}), which selects every namespace.
func (t *AffinityTerm) MatchesNamespace(ns string, nsLabels labels.Set) bool {
	if t.Namespaces.Has(ns) {
		return true
	}
	if t.NamespaceSelector == nil {
		return false
	}
	if nsLabels == nil {
		return t.NamespaceSelector.Empty()
	}
	return t.NamespaceSelector.Matches(nsLabels)
}

// ResolveNamespaces returns the term with a non-empty namespaceSelector
// replaced by the namespaces of s it selects, so matching needs no
// namespace labels afterwards. The copy shares nothing mutable with t.
func (t AffinityTerm) ResolveNamespaces(s *Snapshot) AffinityTerm {
	if t.NamespaceSelector == nil || t.NamespaceSelector.Empty() {
		return t
	}
	ns := t.Namespaces.Clone()
	for name, l := range s.Namespaces {
		if t.NamespaceSelector.Matches(l) {
			ns.Insert(name)
		}
	}
	t.Namespaces, t.NamespaceSelector = ns, nil
	return t
}

// NamespaceLabels returns the labels of namespace ns, never nil for a
// namespace in s.Namespaces, and nil when s does not know it.
func (s *Snapshot) NamespaceLabels(ns string) labels.Set {
	l, ok := s.Namespaces[ns]
	if !ok {
		return nil
	}
	if l == nil {
		return labels.Set{}
	}
	return l
}
