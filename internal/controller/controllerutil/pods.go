package controllerutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// IsPodActive reports whether a pod counts toward its owner's replicas: it
// is not terminating and has not finished.
func IsPodActive(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// FilterActivePods returns the active pods of pods, in order.
func FilterActivePods(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if IsPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// podReadyCondition returns the pod's Ready condition, or nil.
func podReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	c := podReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// PodReadySince returns when the pod last became ready, and false when it
// is not ready.
func PodReadySince(p *corev1.Pod) (time.Time, bool) {
	c := podReadyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return time.Time{}, false
	}
	return c.LastTransitionTime.Time, true
}

// IsPodAvailable reports whether the pod has been ready for at least
// minReadySeconds at now. With minReadySeconds 0 ready means available.
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	since, ok := PodReadySince(p)
	if !ok {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	min := time.Duration(minReadySeconds) * time.Second
	return !since.IsZero() && !since.Add(min).After(now)
}
