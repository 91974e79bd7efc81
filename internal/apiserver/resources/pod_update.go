package resources

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podMutableFields names what an update of a pod may change; the rest of
// the spec is fixed once the pod exists (spec.nodeName is set by binding).
const podMutableFields = "`spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, " +
	"`spec.tolerations` (only additions to existing tolerations) or `spec.schedulingGates` (only removals)"

// validatePodUpdate checks an update of a pod: the new pod must be valid,
// and its spec may differ from the old one only in the fields above.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := ValidateMetaUpdate(pod, old)
	errs = append(errs, validatePodSpecForPod(&pod.Spec, true)...)
	specPath := field.NewPath("spec")
	spec, oldSpec := &pod.Spec, &old.Spec

	for _, list := range []struct {
		name     string
		now, was []corev1.Container
	}{{"containers", spec.Containers, oldSpec.Containers}, {"initContainers", spec.InitContainers, oldSpec.InitContainers}} {
		if len(list.now) != len(list.was) {
			return append(errs, field.Forbidden(specPath.Child(list.name), "pod updates may not add or remove containers"))
		}
	}

	deadlinePath := specPath.Child("activeDeadlineSeconds")
	switch now, was := spec.ActiveDeadlineSeconds, oldSpec.ActiveDeadlineSeconds; {
	case now == nil && was != nil:
		errs = append(errs, field.Invalid(deadlinePath, now, "must not update from a positive integer to nil value"))
	case now != nil && (*now < 0 || *now > math.MaxInt32):
		// ValidatePodSpec reported it.
	case now != nil && was != nil && *now > *was:
		errs = append(errs, field.Invalid(deadlinePath, *now, "must be less than or equal to previous value"))
	}
	errs = append(errs, validateOnlyAddedTolerations(spec.Tolerations, oldSpec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, validateOnlyRemovedGates(spec.SchedulingGates, oldSpec.SchedulingGates, specPath.Child("schedulingGates"))...)

	// Compare with the mutable fields taken from the old spec.
	fixed := spec.DeepCopy()
	for i := range fixed.Containers {
		fixed.Containers[i].Image = oldSpec.Containers[i].Image
	}
	for i := range fixed.InitContainers {
		fixed.InitContainers[i].Image = oldSpec.InitContainers[i].Image
	}
	fixed.ActiveDeadlineSeconds = oldSpec.ActiveDeadlineSeconds
	fixed.Tolerations = oldSpec.Tolerations
	fixed.SchedulingGates = oldSpec.SchedulingGates
	if changed := changedPodSpecFields(fixed, oldSpec); len(changed) > 0 {
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s; changed: %s",
			podMutableFields, strings.Join(changed, ", "))))
	}
	return errs
}

// validateOnlyAddedTolerations: every old toleration is still there, with
// only its tolerationSeconds possibly changed.
func validateOnlyAddedTolerations(now, was []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range was {
		kept := false
		for _, n := range now {
			o.TolerationSeconds = n.TolerationSeconds
			if apiequality.Semantic.DeepEqual(o, n) {
				kept = true
				break
			}
		}
		if !kept {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// validateOnlyRemovedGates: scheduling gates can be removed, never added.
func validateOnlyRemovedGates(now, was []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	old := sets.New[string]()
	for _, g := range was {
		old.Insert(g.Name)
	}
	var errs field.ErrorList
	for i, g := range now {
		if !old.Has(g.Name) {
			errs = append(errs, field.Forbidden(fldPath.Index(i), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// changedPodSpecFields lists the spec fields that differ, by their paths;
// containers are compared field by field so the message points at e.g.
// spec.containers[0].ports.
func changedPodSpecFields(a, b *corev1.PodSpec) []string {
	var changed []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < va.NumField(); i++ {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		if apiequality.Semantic.DeepEqual(fa, fb) {
			continue
		}
		name := "spec." + podspecJSONName(va.Type().Field(i))
		ca, okA := fa.([]corev1.Container)
		cb, okB := fb.([]corev1.Container)
		if !okA || !okB || len(ca) != len(cb) {
			changed = append(changed, name)
			continue
		}
		for j := range ca {
			ra, rb := reflect.ValueOf(ca[j]), reflect.ValueOf(cb[j])
			for k := 0; k < ra.NumField(); k++ {
				if !apiequality.Semantic.DeepEqual(ra.Field(k).Interface(), rb.Field(k).Interface()) {
					changed = append(changed, fmt.Sprintf("%s[%d].%s", name, j, podspecJSONName(ra.Type().Field(k))))
				}
			}
		}
	}
	return changed
}
