package controllerutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
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

// SetPodCondition puts c into status, replacing the condition of its
// type; an unchanged status keeps the old lastTransitionTime.
func SetPodCondition(status *corev1.PodStatus, c corev1.PodCondition) {
	for i := range status.Conditions {
		if status.Conditions[i].Type != c.Type {
			continue
		}
		if status.Conditions[i].Status == c.Status {
			c.LastTransitionTime = status.Conditions[i].LastTransitionTime
		}
		status.Conditions[i] = c
		return
	}
	status.Conditions = append(status.Conditions, c)
}

// IsNodeReady reports whether the node's Ready condition is True.
func IsNodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
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

// ControllerUIDIndex names the informer index that AddControllerUIDIndexer adds.
const ControllerUIDIndex = "controllerUID"

// orphanIndexKey is the index value of objects without a controller in
// namespace ns (UIDs never contain a slash).
func orphanIndexKey(ns string) string { return ns + "/" }

// AddControllerUIDIndexer indexes inf's objects by their controller's
// UID, and objects with no controller by namespace, so that a controller
// finds what it owns, and the orphans it may adopt, without scanning
// every object of the namespace (as upstream's ReplicaSet controller does
// for pods since 1.31; the Deployment controller uses it for ReplicaSets).
// Adding it twice to a shared informer is harmless.
func AddControllerUIDIndexer(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[ControllerUIDIndex]; ok {
		return nil
	}
	return inf.AddIndexers(cache.Indexers{ControllerUIDIndex: func(obj any) ([]string, error) {
		o, ok := obj.(metav1.Object)
		if !ok {
			return nil, nil
		}
		if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return []string{orphanIndexKey(o.GetNamespace())}, nil
	}})
}

// OwnedOrOrphaned returns, from an indexer with AddControllerUIDIndexer's
// index, the objects of namespace ns that the controller with UID owner
// controls, and those no controller controls.
func OwnedOrOrphaned[T metav1.Object](indexer cache.Indexer, ns string, owner types.UID) ([]T, error) {
	var out []T
	for _, key := range []string{string(owner), orphanIndexKey(ns)} {
		objs, err := indexer.ByIndex(ControllerUIDIndex, key)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if t, ok := o.(T); ok && t.GetNamespace() == ns {
				out = append(out, t)
			}
		}
	}
	return out, nil
}
