package resources

import (
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Nodes is core/v1 nodes: spec from users and the node IPAM controller,
// status from the kubelet. As upstream, a node may be created with its
// status (the kubelet registers itself that way).
func Nodes() *Resource {
	v1 := corev1.SchemeGroupVersion
	return &Resource{
		GroupVersion: v1,
		Resource:     "nodes",
		Singular:     "node",
		Kind:         "Node",
		Namespaced:   false,
		ShortNames:   []string{"no"},
		New:          func() runtime.Object { return &corev1.Node{} },
		NewList:      func() runtime.Object { return &corev1.NodeList{} },
		HasStatus:    true,
		Subresources: []Subresource{
			{Name: "proxy", Kind: v1.WithKind("NodeProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}},
		},
		Default: func(obj runtime.Object) { defaultNode(obj.(*corev1.Node)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			n := obj.(*corev1.Node)
			errs := append(ValidateMeta(n, false, NameIsDNSSubdomain), validateNodeSpec(&n.Spec)...)
			return append(errs, validateNodeStatus(&n.Status)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*corev1.Node), old.(*corev1.Node)
			errs := append(ValidateMetaUpdate(n, o), validateNodeSpec(&n.Spec)...)
			return append(errs, validateNodeSpecUpdate(&n.Spec, &o.Spec)...)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			n := obj.(*corev1.Node)
			return append(ValidateMetaUpdate(n, old), validateNodeStatus(&n.Status)...)
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
		},
		Table: &Table{Columns: printers.NodeColumns, Row: printers.NodeRow},
	}
}

// defaultNode keeps spec.podCIDR and spec.podCIDRs in step (podCIDRs wins,
// as in upstream's conversion) and defaults allocatable to capacity.
func defaultNode(n *corev1.Node) {
	if len(n.Spec.PodCIDRs) > 0 {
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	} else if n.Spec.PodCIDR != "" {
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
}

func validateNodeSpec(spec *corev1.NodeSpec) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "podCIDRs")
	valid := true
	for i, c := range spec.PodCIDRs {
		e := validation.IsValidCIDRForLegacyField(p.Index(i), c, false, nil)
		valid = valid && len(e) == 0
		errs = append(errs, e...)
	}
	if valid && len(spec.PodCIDRs) > 1 {
		if dual, _ := netutils.IsDualStackCIDRStrings(spec.PodCIDRs); !dual || len(spec.PodCIDRs) > 2 {
			errs = append(errs, field.Invalid(p, spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
	}
	return append(errs, validateNodeTaints(spec.Taints, field.NewPath("spec", "taints"))...)
}

// validateNodeSpecUpdate: the pod CIDRs and provider ID may be set once
// (by the IPAM controller, the cloud provider) and never changed.
func validateNodeSpecUpdate(spec, old *corev1.NodeSpec) field.ErrorList {
	var errs field.ErrorList
	if len(old.PodCIDRs) > 0 && !slices.Equal(old.PodCIDRs, spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.ProviderID != "" && spec.ProviderID != old.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

// validateNodeTaints checks each taint and that no key+effect pair
// appears twice.
func validateNodeTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, t := range taints {
		tp := p.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, tp.Child("key"))...)
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(tp.Child("value"), t.Value, msg))
		}
		switch {
		case t.Effect == "":
			errs = append(errs, field.Required(tp.Child("effect"), ""))
		case !sets.New(taintEffects...).Has(t.Effect):
			errs = append(errs, field.NotSupported(tp.Child("effect"), t.Effect, taintEffects))
		}
		pair := t.Key + "\x00" + string(t.Effect)
		if seen.Has(pair) {
			d := field.Duplicate(tp, t)
			d.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, d)
			continue
		}
		seen.Insert(pair)
	}
	return errs
}

// validateNodeStatus checks what the scheduler trusts: resource amounts
// are non-negative, and addresses are not repeated.
func validateNodeStatus(st *corev1.NodeStatus) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("status")
	errs = append(errs, validateNodeResources(st.Capacity, p.Child("capacity"))...)
	errs = append(errs, validateNodeResources(st.Allocatable, p.Child("allocatable"))...)
	seen := sets.New[corev1.NodeAddress]()
	for i, a := range st.Addresses {
		if seen.Has(a) {
			errs = append(errs, field.Duplicate(p.Child("addresses").Index(i), a))
		}
		seen.Insert(a)
	}
	return errs
}

func validateNodeResources(list corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(list)) {
		if q := list[name]; q.Sign() < 0 {
			errs = append(errs, field.Invalid(p.Key(string(name)), q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}
