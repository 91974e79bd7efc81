package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Priority values and names with a fixed meaning, as upstream defines them.
const (
	// HighestUserDefinablePriority is the largest value a class not named
	// system-* may have.
	HighestUserDefinablePriority int32 = 1000000000
	// SystemCriticalPriority is the floor of the built-in classes' values.
	SystemCriticalPriority = 2 * HighestUserDefinablePriority

	SystemClusterCritical = "system-cluster-critical"
	SystemNodeCritical    = "system-node-critical"

	// systemPriorityClassPrefix starts the names reserved for built-ins.
	systemPriorityClassPrefix = "system-"
)

// SystemPriorityClasses are the classes every cluster has; the apiserver
// creates them at startup. Each call returns new objects the caller owns.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{
			ObjectMeta:  metav1.ObjectMeta{Name: SystemNodeCritical},
			Value:       SystemCriticalPriority + 1000,
			Description: "For system pods that must keep running on the node they are on.",
		},
		{
			ObjectMeta:  metav1.ObjectMeta{Name: SystemClusterCritical},
			Value:       SystemCriticalPriority,
			Description: "For system pods the cluster needs, which may move to another node.",
		},
	}
}

// PriorityClassLister reads the stored PriorityClasses, for the admission
// checks that depend on other classes (one global default) and for pods
// resolving their priority.
type PriorityClassLister interface {
	// ListPriorityClasses returns every stored class; the slice is the
	// caller's. Errors are returned as they come (storage errors are
	// translated by the apiserver).
	ListPriorityClasses(ctx context.Context) ([]schedulingv1.PriorityClass, error)
}

// builtinPriorityClasses is the lister used when none is wired (tests,
// tools building the resource list without storage): the built-ins only.
type builtinPriorityClasses struct{}

func (builtinPriorityClasses) ListPriorityClasses(context.Context) ([]schedulingv1.PriorityClass, error) {
	var out []schedulingv1.PriorityClass
	for _, pc := range SystemPriorityClasses() {
		pc.PreemptionPolicy = podspecRef(corev1.PreemptLowerPriority)
		out = append(out, *pc)
	}
	return out, nil
}

// PriorityClasses is scheduling.k8s.io/v1 priorityclasses: cluster-wide
// names for pod priorities. value and preemptionPolicy never change;
// names starting with system- are the built-ins', which cannot be
// deleted; at most one class is the global default. pcs finds the other
// classes for that last check (nil: the built-ins only).
func PriorityClasses(pcs PriorityClassLister) *Resource {
	if pcs == nil {
		pcs = builtinPriorityClasses{}
	}
	return &Resource{
		GroupVersion: schedulingv1.SchemeGroupVersion,
		Resource:     "priorityclasses",
		Singular:     "priorityclass",
		Kind:         "PriorityClass",
		Namespaced:   false,
		ShortNames:   []string{"pc"},
		New:          func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList:      func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Default: func(obj runtime.Object) {
			if pc := obj.(*schedulingv1.PriorityClass); pc.PreemptionPolicy == nil {
				pc.PreemptionPolicy = podspecRef(corev1.PreemptLowerPriority)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validatePriorityClass(obj.(*schedulingv1.PriorityClass))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePriorityClassUpdate(obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass))
		},
		BeforeCreate: func(ctx context.Context, obj runtime.Object, _ bool) (func(), error) {
			return nil, checkSingleGlobalDefault(ctx, pcs, obj.(*schedulingv1.PriorityClass))
		},
		BeforeUpdate: func(ctx context.Context, obj, _ runtime.Object, _ bool) (func(), error) {
			return nil, checkSingleGlobalDefault(ctx, pcs, obj.(*schedulingv1.PriorityClass))
		},
		BeforeDelete: func(obj runtime.Object) (bool, error) {
			name := obj.(*schedulingv1.PriorityClass).Name
			if isSystemPriorityClass(name) {
				return false, apierrors.NewForbidden(schedulingv1.Resource("priorityclasses"), name,
					errors.New("this is a system priority class and cannot be deleted"))
			}
			return false, nil
		},
		Table: &Table{Columns: printers.PriorityClassColumns, Row: printers.PriorityClassRow},
	}
}

func isSystemPriorityClass(name string) bool {
	for _, pc := range SystemPriorityClasses() {
		if pc.Name == name {
			return true
		}
	}
	return false
}

// validatePriorityClass: a system- name must be a built-in's, with its
// value and globalDefault false; any other class stays at or below
// HighestUserDefinablePriority.
func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	errs := ValidateMeta(pc, false, NameIsDNSSubdomain)
	if strings.HasPrefix(pc.Name, systemPriorityClassPrefix) {
		if reason := systemClassMismatch(pc); reason != "" {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+systemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+reason))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"),
			fmt.Sprintf("maximum allowed value of a user defined priority is %d", HighestUserDefinablePriority)))
	}
	if p := pc.PreemptionPolicy; p != nil && *p != corev1.PreemptLowerPriority && *p != corev1.PreemptNever {
		errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), *p,
			[]corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
	}
	return errs
}

// systemClassMismatch says why pc is not one of the built-ins ("" if it is).
func systemClassMismatch(pc *schedulingv1.PriorityClass) string {
	for _, sys := range SystemPriorityClasses() {
		if sys.Name != pc.Name {
			continue
		}
		if sys.Value != pc.Value {
			return fmt.Sprintf("value of %s PriorityClass must be %d", sys.Name, sys.Value)
		}
		if sys.GlobalDefault != pc.GlobalDefault {
			return fmt.Sprintf("globalDefault of %s PriorityClass must be %t", sys.Name, sys.GlobalDefault)
		}
		return ""
	}
	return pc.Name + " is not a known system priority class"
}

// validatePriorityClassUpdate: value and preemptionPolicy are immutable,
// so a pod's priority stays what its class said when it was created.
func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	errs := ValidateMetaUpdate(pc, old)
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	if !equalPreemptionPolicy(pc.PreemptionPolicy, old.PreemptionPolicy) {
		errs = append(errs, field.Invalid(field.NewPath("preemptionPolicy"), pc.PreemptionPolicy, "field is immutable"))
	}
	return errs
}

func equalPreemptionPolicy(a, b *corev1.PreemptionPolicy) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// checkSingleGlobalDefault refuses a second globalDefault class, as
// upstream's Priority admission plugin does (403). Two concurrent writes
// can still both pass; pods then take the lowest default (see
// defaultPriorityClass).
func checkSingleGlobalDefault(ctx context.Context, pcs PriorityClassLister, pc *schedulingv1.PriorityClass) error {
	if !pc.GlobalDefault {
		return nil
	}
	classes, err := pcs.ListPriorityClasses(ctx)
	if err != nil {
		return err
	}
	for _, other := range classes {
		if other.GlobalDefault && other.Name != pc.Name {
			return apierrors.NewForbidden(schedulingv1.Resource("priorityclasses"), pc.Name,
				fmt.Errorf("PriorityClass %s is already marked as default. Only one default can exist", other.Name))
		}
	}
	return nil
}
