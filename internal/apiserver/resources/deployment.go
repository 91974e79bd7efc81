package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Deployment defaults, as upstream's apps/v1 defaults them.
var (
	defaultMaxSurge                = intstr.FromString("25%")
	defaultMaxUnavailable          = intstr.FromString("25%")
	defaultRevisionHistoryLimit    = int32(10)
	defaultProgressDeadlineSeconds = int32(600)
)

// Deployments is apps/v1 deployments, with status and scale. Upstream
// selects deployments by metadata fields only, so Fields is nil.
func Deployments() *Resource {
	return &Resource{
		Table:        &Table{Columns: printers.DeploymentColumns, Row: printers.DeploymentRow},
		GroupVersion: appsv1.SchemeGroupVersion,
		Resource:     "deployments",
		Singular:     "deployment",
		Kind:         "Deployment",
		Namespaced:   true,
		ShortNames:   []string{"deploy"},
		Categories:   []string{"all"},
		New:          func() runtime.Object { return &appsv1.Deployment{} },
		NewList:      func() runtime.Object { return &appsv1.DeploymentList{} },
		HasStatus:    true,
		Scale: &ScaleAccessor{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return replicasOrDefault(d.Spec.Replicas), d.Status.Replicas, replicaSelectorString(d.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
		PrepareForCreate: func(obj runtime.Object) {
			d := obj.(*appsv1.Deployment)
			d.Status = appsv1.DeploymentStatus{}
		},
		Default: func(obj runtime.Object) { defaultDeployment(obj.(*appsv1.Deployment)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			d := obj.(*appsv1.Deployment)
			return append(ValidateMeta(d, true, NameIsDNSSubdomain), validateDeploymentSpec(&d.Spec)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			errs := append(ValidateMetaUpdate(d, o), validateDeploymentSpec(&d.Spec)...)
			return append(errs, apimachineryvalidation.ValidateImmutableField(d.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))...)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateDeploymentStatusUpdate(obj.(*appsv1.Deployment), old.(*appsv1.Deployment))
		},
		// Annotations count too: the controller copies them to replica sets.
		GenerationChanged: func(obj, old runtime.Object) bool {
			return SpecChanged(obj, old) || !apiequality.Semantic.DeepEqual(
				obj.(*appsv1.Deployment).Annotations, old.(*appsv1.Deployment).Annotations)
		},
	}
}

func defaultDeployment(d *appsv1.Deployment) {
	spec := &d.Spec
	if spec.Replicas == nil {
		spec.Replicas = podspecRef(int32(1))
	}
	if spec.Strategy.Type == "" {
		spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if spec.Strategy.RollingUpdate == nil {
			spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		ru := spec.Strategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = podspecRef(defaultMaxUnavailable)
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = podspecRef(defaultMaxSurge)
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = podspecRef(defaultRevisionHistoryLimit)
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = podspecRef(defaultProgressDeadlineSeconds)
	}
	DefaultPodTemplateSpec(&spec.Template)
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(replicasOrDefault(spec.Replicas)), specPath.Child("replicas"))...)
	selector, selErrs := validateReplicaSelector(spec.Selector, "deployment", specPath.Child("selector"))
	errs = append(errs, selErrs...)
	errs = append(errs, validateReplicaTemplate(&spec.Template, selector, specPath.Child("template"))...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, specPath.Child("strategy"))...)
	errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), specPath.Child("revisionHistoryLimit"))...)
	}
	if p := spec.ProgressDeadlineSeconds; p != nil {
		deadlinePath := specPath.Child("progressDeadlineSeconds")
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(*p), deadlinePath)...)
		if *p <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(deadlinePath, *p, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), s.Type, []appsv1.DeploymentStrategyType{
			appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	ruPath := fldPath.Child("rollingUpdate")
	if s.RollingUpdate == nil {
		return field.ErrorList{field.Required(ruPath, "this should be defaulted and never be nil")}
	}
	surge, unavailable := s.RollingUpdate.MaxSurge, s.RollingUpdate.MaxUnavailable
	errs := validateRollingIntOrPercent(unavailable, ruPath.Child("maxUnavailable"))
	errs = append(errs, validateRollingIntOrPercent(surge, ruPath.Child("maxSurge"))...)
	if rollingIntOrPercentValue(unavailable) == 0 && rollingIntOrPercentValue(surge) == 0 {
		errs = append(errs, field.Invalid(ruPath.Child("maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"))
	}
	if unavailable != nil && unavailable.Type == intstr.String && rollingIntOrPercentValue(unavailable) > 100 {
		errs = append(errs, field.Invalid(ruPath.Child("maxUnavailable"), unavailable, "must not be greater than 100%"))
	}
	return errs
}

// validateRollingIntOrPercent: a non-negative integer or a percentage like "5%".
func validateRollingIntOrPercent(v *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch {
	case v == nil:
		return nil
	case v.Type == intstr.String:
		if len(validation.IsValidPercent(v.StrVal)) > 0 {
			return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%')")}
		}
		return nil
	}
	return apimachineryvalidation.ValidateNonnegativeField(int64(v.IntValue()), fldPath)
}

// rollingIntOrPercentValue is the number in v ("25%" is 25); nil and malformed
// values are 0.
func rollingIntOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == intstr.Int {
		return v.IntValue()
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, 100, false)
	if err != nil {
		return 0
	}
	return n
}

func validateDeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := ValidateMetaUpdate(d, old)
	st, p := d.Status, field.NewPath("status")
	errs = append(errs, validateReplicaCounts(p, []replicaCount{
		{"observedGeneration", st.ObservedGeneration},
		{"replicas", int64(st.Replicas)},
		{"updatedReplicas", int64(st.UpdatedReplicas)},
		{"readyReplicas", int64(st.ReadyReplicas)},
		{"availableReplicas", int64(st.AvailableReplicas)},
		{"unavailableReplicas", int64(st.UnavailableReplicas)},
	})...)
	if st.TerminatingReplicas != nil {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(*st.TerminatingReplicas), p.Child("terminatingReplicas"))...)
	}
	if st.CollisionCount != nil {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(*st.CollisionCount), p.Child("collisionCount"))...)
		if was := old.Status.CollisionCount; was != nil && *st.CollisionCount < *was {
			errs = append(errs, field.Invalid(p.Child("collisionCount"), *st.CollisionCount, "cannot be decremented"))
		}
	} else if old.Status.CollisionCount != nil {
		errs = append(errs, field.Invalid(p.Child("collisionCount"), st.CollisionCount, "cannot be decremented"))
	}
	msg := "cannot be greater than status.replicas"
	if st.UpdatedReplicas > st.Replicas {
		errs = append(errs, field.Invalid(p.Child("updatedReplicas"), st.UpdatedReplicas, msg))
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

// replicaCount is one status counter that may not be negative.
type replicaCount struct {
	name  string
	value int64
}

func validateReplicaCounts(fldPath *field.Path, counts []replicaCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(c.value, fldPath.Child(c.name))...)
	}
	return errs
}

// replicasOrDefault is spec.replicas, 1 when unset.
func replicasOrDefault(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// replicaSelectorString is sel as /scale reports it ("app=web"), "" if invalid.
func replicaSelectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}
