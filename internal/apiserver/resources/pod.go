package resources

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// defaultTolerationSeconds is how long a pod stays on a node that became
// not-ready or unreachable, as upstream's DefaultTolerationSeconds plugin
// sets it.
const defaultTolerationSeconds int64 = 300

// Pods is core/v1 pods. Besides status, pods serve the subresources the
// kubelet and scheduler need (binding, log, exec, attach, portforward,
// proxy) and eviction. A bound pod is deleted gracefully: the kubelet
// finishes the deletion once its containers have stopped.
func Pods() *Resource {
	v1 := corev1.SchemeGroupVersion
	return &Resource{
		Table:        &Table{Columns: printers.PodColumns, Row: printers.PodRow},
		GroupVersion: v1,
		Resource:     "pods",
		Singular:     "pod",
		Kind:         "Pod",
		Namespaced:   true,
		ShortNames:   []string{"po"},
		Categories:   []string{"all"},
		New:          func() runtime.Object { return &corev1.Pod{} },
		NewList:      func() runtime.Object { return &corev1.PodList{} },
		HasStatus:    true,
		Subresources: []Subresource{
			{Name: "attach", Kind: v1.WithKind("PodAttachOptions"), Verbs: []string{"create", "get"}},
			{Name: "binding", Kind: v1.WithKind("Binding"), Verbs: []string{"create"}},
			{Name: "eviction", Kind: policyv1.SchemeGroupVersion.WithKind("Eviction"), Verbs: []string{"create"}},
			{Name: "exec", Kind: v1.WithKind("PodExecOptions"), Verbs: []string{"create", "get"}},
			{Name: "log", Kind: v1.WithKind("Pod"), Verbs: []string{"get"}},
			{Name: "portforward", Kind: v1.WithKind("PodPortForwardOptions"), Verbs: []string{"create", "get"}},
			{Name: "proxy", Kind: v1.WithKind("PodProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}},
		},
		PrepareForCreate: preparePodForCreate,
		Default:          func(obj runtime.Object) { defaultPod(obj.(*corev1.Pod)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validatePod(obj.(*corev1.Pod))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePodStatusUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		GenerationChanged: SpecChanged,
		GracefulDeletion: func(obj runtime.Object, requested *int64) (int64, bool) {
			return podGracePeriod(obj.(*corev1.Pod), requested)
		},
		Fields: func(obj runtime.Object) fields.Set { return podFields(obj.(*corev1.Pod)) },
		// Each kubelet lists and watches its node's pods.
		Index: &FieldIndex{
			Field: "spec.nodeName",
			Value: func(obj runtime.Object) string { return obj.(*corev1.Pod).Spec.NodeName },
		},
	}
}

// preparePodForCreate starts the pod's life: generation 1, phase Pending,
// its QoS class, and PodScheduled=False while scheduling gates hold it.
func preparePodForCreate(obj runtime.Object) {
	pod := obj.(*corev1.Pod)
	pod.Generation = 1
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOSClass(&pod.Spec)}
	if len(pod.Spec.SchedulingGates) > 0 {
		pod.Status.Conditions = []corev1.PodCondition{{
			Type:    corev1.PodScheduled,
			Status:  corev1.ConditionFalse,
			Reason:  corev1.PodReasonSchedulingGated,
			Message: "Scheduling is blocked due to non-empty scheduling gates",
		}}
	}
}

// defaultPod applies the PodSpec defaults, those upstream gives pods but
// not templates, and what upstream's admission plugins add to every pod
// (ServiceAccount, DefaultTolerationSeconds). Priority needs the stored
// PriorityClasses and is resolved on create (pod_priority.go).
func defaultPod(pod *corev1.Pod) {
	spec := &pod.Spec
	DefaultPodSpec(spec)
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = podspecRef(corev1.DefaultEnableServiceLinks)
	}
	for _, ctrs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range ctrs {
			defaultRequestsFromLimits(&ctrs[i].Resources)
			if spec.HostNetwork {
				for j := range ctrs[i].Ports {
					if p := &ctrs[i].Ports[j]; p.HostPort == 0 {
						p.HostPort = p.ContainerPort
					}
				}
			}
		}
	}

	// Mirror pods (static pods the kubelet reports) run without a service
	// account; every other pod gets "default", as the ServiceAccount plugin
	// gives it.
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; !mirror && spec.ServiceAccountName == "" {
		spec.ServiceAccountName = "default"
		spec.DeprecatedServiceAccount = "default"
	}
	addDefaultTolerations(spec)
}

// defaultRequestsFromLimits: a resource with a limit and no request
// requests its limit.
func defaultRequestsFromLimits(r *corev1.ResourceRequirements) {
	for name, limit := range r.Limits {
		if _, ok := r.Requests[name]; ok {
			continue
		}
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		r.Requests[name] = limit.DeepCopy()
	}
}

// addDefaultTolerations lets a pod stay 300s on a node that is not ready
// or unreachable, unless it already tolerates that taint.
func addDefaultTolerations(spec *corev1.PodSpec) {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		tolerated := false
		for _, t := range spec.Tolerations {
			if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				tolerated = true
				break
			}
		}
		if !tolerated {
			spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
				Key:               key,
				Operator:          corev1.TolerationOpExists,
				Effect:            corev1.TaintEffectNoExecute,
				TolerationSeconds: podspecRef(defaultTolerationSeconds),
			})
		}
	}
}

func validatePod(pod *corev1.Pod) field.ErrorList {
	errs := ValidateMeta(pod, true, NameIsDNSSubdomain)
	return append(errs, validatePodSpecForPod(&pod.Spec, false)...)
}

// validatePodSpecForPod adds to ValidatePodSpec what holds for pods but not
// templates: images without surrounding blanks, image volumes naming an
// image, and no ephemeral containers on create.
func validatePodSpecForPod(spec *corev1.PodSpec, update bool) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := ValidatePodSpec(spec, specPath)
	for _, list := range []struct {
		name string
		ctrs []corev1.Container
	}{{"containers", spec.Containers}, {"initContainers", spec.InitContainers}} {
		for i, c := range list.ctrs {
			if c.Image != "" && strings.TrimSpace(c.Image) != c.Image {
				errs = append(errs, field.Invalid(specPath.Child(list.name).Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
			}
		}
	}
	for i, v := range spec.Volumes {
		if v.Image != nil && v.Image.Reference == "" {
			errs = append(errs, field.Required(specPath.Child("volumes").Index(i).Child("image", "reference"), ""))
		}
	}
	if !update && len(spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

// podGracePeriod decides how a delete proceeds. A pod that never reached a
// node, or whose containers have all finished, goes at once, as does a
// delete with grace period 0. Otherwise the pod lingers for the requested
// grace period (else its terminationGracePeriodSeconds) while its kubelet
// stops it.
func podGracePeriod(pod *corev1.Pod, requested *int64) (grace int64, graceful bool) {
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	grace = corev1.DefaultTerminationGracePeriodSeconds
	switch {
	case requested != nil:
		grace = *requested
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if grace == 0 {
		return 0, false
	}
	// A negative period (older clients sent -1) means the shortest one.
	return max(grace, 1), true
}

// podFields are the field selectors upstream supports on pods.
func podFields(pod *corev1.Pod) fields.Set {
	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}
