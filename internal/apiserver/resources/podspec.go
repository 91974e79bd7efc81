package resources

import (
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Pod specs are shared by pods and the pod templates of workloads. The
// podspec_*.go files hold what both get: defaults (podspec_defaults.go)
// and validation (ValidatePodSpec and the container, env, probe and volume
// checks). This file holds what templates add.

// ValidatePodTemplateSpec checks a pod template: its labels, annotations
// and spec. A template never carries ephemeral containers.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	metaPath := fldPath.Child("metadata")
	errs := metav1validation.ValidateLabels(t.Labels, metaPath.Child("labels"))
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(t.Annotations, metaPath.Child("annotations"))...)
	errs = append(errs, ValidatePodSpec(&t.Spec, fldPath.Child("spec"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// validateReplicaSelector checks the selector of a controller that keeps
// replicas of a template (kind names it in messages: "deployment"): set,
// valid and not empty. It returns the selector to match the template
// against; Everything when it is unusable, so that no second error follows.
func validateReplicaSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	if sel == nil {
		return labels.Everything(), field.ErrorList{field.Required(fldPath, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return labels.Everything(), append(errs, field.Invalid(fldPath, sel, "invalid label selector"))
	}
	return s, errs
}

// validateReplicaTemplate checks the pod template of a controller that
// keeps replicas running: the selector matches its labels, its pods
// restart Always and have no activeDeadlineSeconds.
func validateReplicaTemplate(t *corev1.PodTemplateSpec, selector labels.Selector, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, ValidatePodTemplateSpec(t, fldPath)...)
	// Other invalid values were reported by ValidatePodSpec already.
	if p := t.Spec.RestartPolicy; p == corev1.RestartPolicyOnFailure || p == corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), p, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return errs
}
