package resources

import (
	"fmt"
	"math"
	"net"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePodSpec checks a defaulted PodSpec, as pods and pod templates
// share it. Errors name paths under fldPath (e.g. spec.containers[0].image)
// with upstream's reasons: Required, Invalid, NotSupported, Duplicate,
// Forbidden, NotFound.
func ValidatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	vols, errs := validateVolumes(spec.Volumes, fldPath.Child("volumes"))
	errs = append(errs, validateAllContainers(spec, vols, fldPath)...)
	errs = append(errs, validatePodRestartPolicy(spec.RestartPolicy, fldPath.Child("restartPolicy"))...)
	errs = append(errs, validatePodDNS(spec, fldPath)...)
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	errs = append(errs, validatePodRefName(spec.ServiceAccountName, NameIsDNSSubdomain, fldPath.Child("serviceAccountName"))...)
	errs = append(errs, validatePodRefName(spec.NodeName, NameIsDNSSubdomain, fldPath.Child("nodeName"))...)
	errs = append(errs, validatePodRefName(spec.PriorityClassName, NameIsDNSSubdomain, fldPath.Child("priorityClassName"))...)
	if spec.Hostname != "" {
		errs = append(errs, validatePodDNSLabel(spec.Hostname, fldPath.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, validatePodDNSLabel(spec.Subdomain, fldPath.Child("subdomain"))...)
	}
	if v := spec.ActiveDeadlineSeconds; v != nil && (*v < 1 || *v > math.MaxInt32) {
		errs = append(errs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *v, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	if v := spec.TerminationGracePeriodSeconds; v != nil && *v < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *v, "must be greater than or equal to 0"))
	}
	if p := spec.PreemptionPolicy; p != nil && *p != corev1.PreemptLowerPriority && *p != corev1.PreemptNever {
		errs = append(errs, field.NotSupported(fldPath.Child("preemptionPolicy"), *p,
			[]corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
	}
	errs = append(errs, ValidateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	errs = append(errs, validatePodHostAliases(spec.HostAliases, fldPath.Child("hostAliases"))...)
	errs = append(errs, validatePodSchedulingGates(spec.SchedulingGates, fldPath.Child("schedulingGates"))...)
	return errs
}

func validatePodRestartPolicy(p corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, p, []corev1.RestartPolicy{
		corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever})}
}

func validatePodDNS(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	policyPath := fldPath.Child("dnsPolicy")
	switch spec.DNSPolicy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault:
	case corev1.DNSNone:
		if spec.DNSConfig == nil {
			errs = append(errs, field.Required(fldPath.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
		} else if len(spec.DNSConfig.Nameservers) == 0 {
			errs = append(errs, field.Required(fldPath.Child("dnsConfig", "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"))
		}
	case "":
		errs = append(errs, field.Required(policyPath, ""))
	default:
		errs = append(errs, field.NotSupported(policyPath, spec.DNSPolicy, []corev1.DNSPolicy{
			corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}))
	}
	if c := spec.DNSConfig; c != nil {
		cfgPath := fldPath.Child("dnsConfig")
		if len(c.Nameservers) > 3 {
			errs = append(errs, field.Invalid(cfgPath.Child("nameservers"), c.Nameservers, "must not have more than 3 nameservers"))
		}
		for i, ns := range c.Nameservers {
			errs = append(errs, validation.IsValidIP(cfgPath.Child("nameservers").Index(i), ns)...)
		}
		if len(c.Searches) > 32 {
			errs = append(errs, field.Invalid(cfgPath.Child("searches"), c.Searches, "must not have more than 32 search paths"))
		}
		for i, o := range c.Options {
			if o.Name == "" {
				errs = append(errs, field.Required(cfgPath.Child("options").Index(i).Child("name"), ""))
			}
		}
	}
	return errs
}

// ValidateTolerations checks tolerations: key a label name, Exists with an
// empty value (and required when the key is empty), Equal with a label
// value, tolerationSeconds only with NoExecute.
func ValidateTolerations(tolerations []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tolerations {
		idx := fldPath.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, idx.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(idx.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(idx.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range content.IsLabelValue(t.Value) {
				errs = append(errs, field.Invalid(idx.Child("value"), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(idx.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(idx.Child("operator"), t.Operator,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(idx.Child("effect"), t.Effect, []corev1.TaintEffect{
				corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
		}
	}
	return errs
}

func validatePodHostAliases(aliases []corev1.HostAlias, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, a := range aliases {
		idx := fldPath.Index(i)
		if net.ParseIP(a.IP) == nil {
			errs = append(errs, field.Invalid(idx.Child("ip"), a.IP, "must be a valid IP address"))
		}
		for j, h := range a.Hostnames {
			errs = append(errs, validatePodRefName(h, NameIsDNSSubdomain, idx.Child("hostnames").Index(j))...)
		}
	}
	return errs
}

func validatePodSchedulingGates(gates []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, g := range gates {
		idx := fldPath.Index(i)
		for _, msg := range content.IsQualifiedName(g.Name) {
			errs = append(errs, field.Invalid(idx.Child("name"), g.Name, msg))
		}
		if seen.Has(g.Name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), g.Name))
		}
		seen.Insert(g.Name)
	}
	return errs
}

// validatePodRefName checks an optional reference to an object by name.
func validatePodRefName(name string, nameFn func(string, bool) []string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range nameFn(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

func validatePodDNSLabel(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// validatePodFileMode checks a volume file mode: 0 to 0777 (octal).
func validatePodFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode == nil || (*mode >= 0 && *mode <= 0o777) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, *mode, fmt.Sprintf("must be a number between 0 and 0%o (octal), both inclusive", 0o777))}
}
