package resources

import (
	"errors"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// undeletableNamespaces are the namespaces every cluster relies on; a
// delete of one of them is refused, as upstream's NamespaceLifecycle
// admission plugin refuses it.
var undeletableNamespaces = map[string]bool{
	metav1.NamespaceDefault: true,
	metav1.NamespaceSystem:  true,
	metav1.NamespacePublic:  true,
}

// Namespaces is core/v1 namespaces. A namespace is deleted in two steps:
// the first delete marks it Terminating and keeps it while spec.finalizers
// is non-empty; the namespace controller empties the contents, clears its
// finalizer through /finalize, and the namespace is then removed.
func Namespaces() *Resource {
	v1 := corev1.SchemeGroupVersion
	return &Resource{
		GroupVersion: v1,
		Resource:     "namespaces",
		Singular:     "namespace",
		Kind:         "Namespace",
		Namespaced:   false,
		ShortNames:   []string{"ns"},
		New:          func() runtime.Object { return &corev1.Namespace{} },
		NewList:      func() runtime.Object { return &corev1.NamespaceList{} },
		HasStatus:    true,
		Subresources: []Subresource{
			{Name: "finalize", Kind: v1.WithKind("Namespace"), Verbs: []string{"update"}},
		},
		Default:          func(obj runtime.Object) { defaultNamespace(obj.(*corev1.Namespace)) },
		PrepareForCreate: func(obj runtime.Object) { prepareNamespaceForCreate(obj.(*corev1.Namespace)) },
		PrepareForUpdate: func(obj, old runtime.Object) {
			ns, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
			ns.Status = o.Status
			ns.Spec.Finalizers = o.Spec.Finalizers
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			ns := obj.(*corev1.Namespace)
			return append(ValidateMeta(ns, false, NameIsDNSLabel), validateNamespaceFinalizers(ns.Spec.Finalizers)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ns := obj.(*corev1.Namespace)
			return append(ValidateMetaUpdate(ns, old), validateNamespaceFinalizers(ns.Spec.Finalizers)...)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			ns := obj.(*corev1.Namespace)
			return append(ValidateMetaUpdate(ns, old), validateNamespacePhase(ns)...)
		},
		BeforeDelete: func(obj runtime.Object) (bool, error) { return beforeNamespaceDelete(obj.(*corev1.Namespace)) },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		Table: &Table{Columns: printers.NamespaceColumns, Row: printers.NamespaceRow},
	}
}

// FinalizeNamespace is the /finalize update: obj becomes old with only
// spec.finalizers (and the resourceVersion precondition) taken from obj.
// Callers check the result with the resource's ValidateUpdate, which
// validates the finalizer names.
func FinalizeNamespace(obj, old runtime.Object) {
	ns := obj.(*corev1.Namespace)
	finalizers, rv := ns.Spec.Finalizers, ns.ResourceVersion
	*ns = *old.(*corev1.Namespace).DeepCopy()
	ns.Spec.Finalizers = finalizers
	if rv != "" {
		ns.ResourceVersion = rv
	}
}

// defaultNamespace labels the namespace with its own name, so selectors
// can pick namespaces by name (upstream overwrites any other value).
func defaultNamespace(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// prepareNamespaceForCreate starts the namespace Active, holding the
// "kubernetes" finalizer that the namespace controller removes once the
// namespace's contents are gone.
func prepareNamespaceForCreate(ns *corev1.Namespace) {
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

// beforeNamespaceDelete refuses to delete the system namespaces and moves
// any other namespace to Terminating; it stays (keep) while spec
// finalizers remain.
func beforeNamespaceDelete(ns *corev1.Namespace) (bool, error) {
	if undeletableNamespaces[ns.Name] {
		return false, apierrors.NewForbidden(corev1.Resource("namespaces"), ns.Name, errors.New("this namespace may not be deleted"))
	}
	ns.Status.Phase = corev1.NamespaceTerminating
	return len(ns.Spec.Finalizers) > 0, nil
}

// standardFinalizers may appear without a domain prefix.
var standardFinalizers = map[string]bool{
	string(corev1.FinalizerKubernetes): true,
	metav1.FinalizerOrphanDependents:   true,
	metav1.FinalizerDeleteDependents:   true,
}

// validateNamespaceFinalizers: each is a qualified name, and one without
// a domain prefix must be a standard finalizer.
func validateNamespaceFinalizers(finalizers []corev1.FinalizerName) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "finalizers")
	for i, f := range finalizers {
		e := apimachineryvalidation.ValidateFinalizerName(string(f), p.Index(i))
		if len(e) == 0 && !strings.Contains(string(f), "/") && !standardFinalizers[string(f)] {
			e = append(e, field.Invalid(p.Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
		errs = append(errs, e...)
	}
	return errs
}

// validateNamespacePhase ties status.phase to deletion: Active until the
// namespace is deleted, Terminating afterwards.
func validateNamespacePhase(ns *corev1.Namespace) field.ErrorList {
	p := field.NewPath("status", "phase")
	if ns.DeletionTimestamp == nil {
		if ns.Status.Phase != corev1.NamespaceActive {
			return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
		}
		return nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}
