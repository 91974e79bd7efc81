package resources

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// withPodPriority adds upstream's Priority admission to the pods resource:
// on create a pod's priority and preemption policy come from its
// PriorityClass (or the global default class), read through pcs (nil: the
// built-ins only); on update a pod sent without them keeps the stored
// ones, which validation then holds immutable.
func withPodPriority(r *Resource, pcs PriorityClassLister) *Resource {
	if pcs == nil {
		pcs = builtinPriorityClasses{}
	}
	beforeCreate := r.BeforeCreate
	r.BeforeCreate = func(ctx context.Context, obj runtime.Object, dryRun bool) (func(), error) {
		if err := admitPodPriority(ctx, pcs, obj.(*corev1.Pod)); err != nil {
			return nil, err
		}
		if beforeCreate == nil {
			return nil, nil
		}
		return beforeCreate(ctx, obj, dryRun)
	}
	prepareForUpdate := r.PrepareForUpdate
	r.PrepareForUpdate = func(obj, old runtime.Object) {
		pod, o := obj.(*corev1.Pod), old.(*corev1.Pod)
		if pod.Spec.Priority == nil {
			pod.Spec.Priority = o.Spec.Priority
		}
		if pod.Spec.PreemptionPolicy == nil {
			pod.Spec.PreemptionPolicy = o.Spec.PreemptionPolicy
		}
		if prepareForUpdate != nil {
			prepareForUpdate(obj, old)
		}
	}
	return r
}

// admitPodPriority resolves spec.priorityClassName into spec.priority and
// spec.preemptionPolicy. A pod without a class gets the global default
// class (its name too), or priority 0 and PreemptLowerPriority when there
// is none. A class that does not exist, or a priority or policy the pod
// sets itself that differs from the class's, is refused with 403 as
// upstream refuses it.
func admitPodPriority(ctx context.Context, pcs PriorityClassLister, pod *corev1.Pod) error {
	classes, err := pcs.ListPriorityClasses(ctx)
	if err != nil {
		return err
	}
	priority, policy := int32(0), corev1.PreemptLowerPriority
	var class *schedulingv1.PriorityClass
	if pod.Spec.PriorityClassName == "" {
		class = defaultPriorityClass(classes)
		if class != nil {
			pod.Spec.PriorityClassName = class.Name
		}
	} else {
		for i := range classes {
			if classes[i].Name == pod.Spec.PriorityClassName {
				class = &classes[i]
				break
			}
		}
		if class == nil {
			return forbiddenPod(pod, "no PriorityClass with name %s was found", pod.Spec.PriorityClassName)
		}
	}
	if class != nil {
		priority = class.Value
		if class.PreemptionPolicy != nil {
			policy = *class.PreemptionPolicy
		}
	}
	if p := pod.Spec.Priority; p != nil && *p != priority {
		return forbiddenPod(pod, "the integer value of priority (%d) must not be provided in pod spec; "+
			"priority admission controller computed %d from the given PriorityClass name", *p, priority)
	}
	if p := pod.Spec.PreemptionPolicy; p != nil && *p != policy {
		return forbiddenPod(pod, "the string value of PreemptionPolicy (%s) must not be provided in pod spec; "+
			"priority admission controller computed %s from the given PriorityClass name", *p, policy)
	}
	pod.Spec.Priority = podspecRef(priority)
	pod.Spec.PreemptionPolicy = podspecRef(policy)
	return nil
}

// defaultPriorityClass is the globalDefault class; should a race have
// stored two, the lower value wins, as upstream picks it.
func defaultPriorityClass(classes []schedulingv1.PriorityClass) *schedulingv1.PriorityClass {
	var def *schedulingv1.PriorityClass
	for i := range classes {
		if classes[i].GlobalDefault && (def == nil || classes[i].Value < def.Value) {
			def = &classes[i]
		}
	}
	return def
}

func forbiddenPod(pod *corev1.Pod, format string, args ...any) error {
	return apierrors.NewForbidden(corev1.Resource("pods"), pod.Name, fmt.Errorf(format, args...))
}
