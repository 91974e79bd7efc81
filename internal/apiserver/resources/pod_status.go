package resources

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podQOSClass computes a pod's QoS class from the cpu and memory of all
// its containers, init containers included:
//   - BestEffort: no container requests or limits either;
//   - Guaranteed: every container limits both, and the pod's summed
//     requests equal its summed limits;
//   - Burstable: anything else.
//
// A limit without a request counts as that request, as defaulting makes it.
func podQOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	sum := func(into corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		total := into[name]
		total.Add(q)
		into[name] = total
	}
	for _, ctrs := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for _, c := range ctrs {
			limited := 0
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				lim, hasLimit := c.Resources.Limits[name]
				req, hasRequest := c.Resources.Requests[name]
				if !hasRequest {
					req = lim
				}
				if req.Sign() > 0 {
					sum(requests, name, req)
				}
				if hasLimit && lim.Sign() > 0 {
					sum(limits, name, lim)
					limited++
				}
			}
			if limited < 2 {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed && len(requests) == len(limits) {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				return corev1.PodQOSBurstable
			}
		}
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

var podPhases = []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown}

// validatePodStatusUpdate checks a write to pods/status (the apiserver has
// already restored the spec): a known phase that never leaves Succeeded or
// Failed, well-formed conditions, IPs and container statuses.
func validatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := ValidateMetaUpdate(pod, old)
	st, statusPath := &pod.Status, field.NewPath("status")

	phasePath := statusPath.Child("phase")
	switch {
	case !sets.New(podPhases...).Has(st.Phase):
		errs = append(errs, field.NotSupported(phasePath, st.Phase, podPhases))
	case isPodTerminalPhase(old.Status.Phase) && st.Phase != old.Status.Phase:
		errs = append(errs, field.Forbidden(phasePath, "may not transition from terminal phase "+string(old.Status.Phase)))
	}

	seen := sets.New[corev1.PodConditionType]()
	for i, c := range st.Conditions {
		idx := statusPath.Child("conditions").Index(i)
		if c.Type == "" {
			errs = append(errs, field.Required(idx.Child("type"), ""))
		} else {
			for _, msg := range content.IsQualifiedName(string(c.Type)) {
				errs = append(errs, field.Invalid(idx.Child("type"), c.Type, msg))
			}
		}
		if seen.Has(c.Type) {
			errs = append(errs, field.Duplicate(idx.Child("type"), c.Type))
		}
		seen.Insert(c.Type)
		switch c.Status {
		case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
		default:
			errs = append(errs, field.NotSupported(idx.Child("status"), c.Status,
				[]corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}))
		}
	}

	errs = append(errs, validatePodRefName(st.NominatedNodeName, NameIsDNSSubdomain, statusPath.Child("nominatedNodeName"))...)
	if len(st.PodIPs) > 2 {
		errs = append(errs, field.TooMany(statusPath.Child("podIPs"), len(st.PodIPs), 2))
	}
	for i, ip := range st.PodIPs {
		errs = append(errs, validation.IsValidIP(statusPath.Child("podIPs").Index(i).Child("ip"), ip.IP)...)
	}
	if len(st.PodIPs) > 0 && st.PodIP != "" && st.PodIP != st.PodIPs[0].IP {
		errs = append(errs, field.Invalid(statusPath.Child("podIP"), st.PodIP, "must equal the first entry of status.podIPs"))
	}
	for i, ip := range st.HostIPs {
		errs = append(errs, validation.IsValidIP(statusPath.Child("hostIPs").Index(i).Child("ip"), ip.IP)...)
	}
	for _, list := range []struct {
		name     string
		statuses []corev1.ContainerStatus
	}{
		{"containerStatuses", st.ContainerStatuses},
		{"initContainerStatuses", st.InitContainerStatuses},
		{"ephemeralContainerStatuses", st.EphemeralContainerStatuses},
	} {
		for i, cs := range list.statuses {
			idx := statusPath.Child(list.name).Index(i)
			if cs.Name == "" {
				errs = append(errs, field.Required(idx.Child("name"), ""))
			}
			errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(cs.RestartCount), idx.Child("restartCount"))...)
		}
	}
	return errs
}

func isPodTerminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}
