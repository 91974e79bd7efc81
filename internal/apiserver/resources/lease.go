package resources

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Leases is coordination.k8s.io/v1 leases: node heartbeats in
// kube-node-lease and leader election.
func Leases() *Resource {
	return &Resource{
		GroupVersion: coordinationv1.SchemeGroupVersion,
		Resource:     "leases",
		Singular:     "lease",
		Kind:         "Lease",
		Namespaced:   true,
		New:          func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:      func() runtime.Object { return &coordinationv1.LeaseList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			l := obj.(*coordinationv1.Lease)
			return append(ValidateMeta(l, true, NameIsDNSSubdomain), validateLeaseSpec(&l.Spec)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			l := obj.(*coordinationv1.Lease)
			return append(ValidateMetaUpdate(l, old), validateLeaseSpec(&l.Spec)...)
		},
		Table: &Table{Columns: printers.LeaseColumns, Row: printers.LeaseRow},
	}
}

// validateLeaseSpec: holderIdentity is free-form and optional; a duration
// must be positive and the transition count not negative. A preferred
// holder only means something under a coordinated-election strategy.
func validateLeaseSpec(spec *coordinationv1.LeaseSpec) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(p.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(p.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if h := spec.PreferredHolder; h != nil && *h != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		errs = append(errs, field.Forbidden(p.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}
