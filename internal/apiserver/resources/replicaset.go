package resources

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// ReplicaSets is apps/v1 replicasets, with status and scale. Besides
// metadata, upstream selects replica sets by status.replicas.
func ReplicaSets() *Resource {
	return &Resource{
		Table:        &Table{Columns: printers.ReplicaSetColumns, Row: printers.ReplicaSetRow},
		GroupVersion: appsv1.SchemeGroupVersion,
		Resource:     "replicasets",
		Singular:     "replicaset",
		Kind:         "ReplicaSet",
		Namespaced:   true,
		ShortNames:   []string{"rs"},
		Categories:   []string{"all"},
		New:          func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:      func() runtime.Object { return &appsv1.ReplicaSetList{} },
		HasStatus:    true,
		Scale: &ScaleAccessor{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return replicasOrDefault(rs.Spec.Replicas), rs.Status.Replicas, replicaSelectorString(rs.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
		PrepareForCreate: func(obj runtime.Object) {
			rs := obj.(*appsv1.ReplicaSet)
			rs.Status = appsv1.ReplicaSetStatus{}
		},
		Default: func(obj runtime.Object) {
			rs := obj.(*appsv1.ReplicaSet)
			if rs.Spec.Replicas == nil {
				rs.Spec.Replicas = podspecRef(int32(1))
			}
			DefaultPodTemplateSpec(&rs.Spec.Template)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			rs := obj.(*appsv1.ReplicaSet)
			return append(ValidateMeta(rs, true, NameIsDNSSubdomain), validateReplicaSetSpec(&rs.Spec)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			rs, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
			errs := append(ValidateMetaUpdate(rs, o), validateReplicaSetSpec(&rs.Spec)...)
			return append(errs, apimachineryvalidation.ValidateImmutableField(rs.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))...)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			rs := obj.(*appsv1.ReplicaSet)
			return append(ValidateMetaUpdate(rs, old), validateReplicaSetStatus(&rs.Status)...)
		},
		GenerationChanged: SpecChanged,
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
		},
	}
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(replicasOrDefault(spec.Replicas)), specPath.Child("replicas"))...)
	errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	selector, selErrs := validateReplicaSelector(spec.Selector, "replicaset", specPath.Child("selector"))
	errs = append(errs, selErrs...)
	return append(errs, validateReplicaTemplate(&spec.Template, selector, specPath.Child("template"))...)
}

func validateReplicaSetStatus(st *appsv1.ReplicaSetStatus) field.ErrorList {
	p := field.NewPath("status")
	errs := validateReplicaCounts(p, []replicaCount{
		{"replicas", int64(st.Replicas)},
		{"fullyLabeledReplicas", int64(st.FullyLabeledReplicas)},
		{"readyReplicas", int64(st.ReadyReplicas)},
		{"availableReplicas", int64(st.AvailableReplicas)},
		{"observedGeneration", st.ObservedGeneration},
	})
	if st.TerminatingReplicas != nil {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(*st.TerminatingReplicas), p.Child("terminatingReplicas"))...)
	}
	msg := "cannot be greater than the number of replicas"
	if st.FullyLabeledReplicas > st.Replicas {
		errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), st.FullyLabeledReplicas, msg))
	}
	if st.ReadyReplicas > st.Replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), st.ReadyReplicas, msg))
	}
	if st.AvailableReplicas > st.Replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.AvailableReplicas, msg))
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}
