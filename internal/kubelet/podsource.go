package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// newPodInformer watches the pods bound to this node only (field selector
// spec.nodeName), with a plain informer rather than a shared one: each
// hollow node then costs one watch and two goroutines, and no cache of
// other nodes' pods.
func (k *Kubelet) newPodInformer() cache.Controller {
	selector := fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
	pods := k.client.CoreV1().Pods(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			return pods.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return pods.Watch(ctx, opts)
		},
	}
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Pod{},
		// Nothing here reads managedFields; a status update without them
		// keeps the server's.
		Transform: controllerutil.TrimManagedFields,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { k.observePod(obj) },
			UpdateFunc: func(old, obj any) { k.observePodUpdate(old, obj) },
			DeleteFunc: k.forgetPod,
		},
	})
	return informer
}

// observePod records the latest version of a pod and syncs it.
func (k *Kubelet) observePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	st := k.state(pod.UID, true)
	k.mu.Lock()
	st.pod = pod
	if st.observedAt.IsZero() {
		st.observedAt = time.Now()
	}
	k.mu.Unlock()
	k.workers.Enqueue(pod.UID)
}

// observePodUpdate records a new version and syncs it only when
// something the kubelet acts on changed: not for the kubelet's own status
// writes (which would double every sync), as upstream's pod config
// source filters them.
func (k *Kubelet) observePodUpdate(oldObj, obj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := obj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	st := k.state(pod.UID, true)
	k.mu.Lock()
	posted := st.postedPhase
	k.mu.Unlock()
	if podChangeMatters(old, pod, posted) {
		k.observePod(pod)
		return
	}
	k.mu.Lock()
	st.pod = pod
	k.mu.Unlock()
}

// podChangeMatters says an update changes what the kubelet does. A
// phase change to postedPhase, the phase the kubelet itself last wrote, is
// its own write coming back and does not count, unless it is terminal
// (the sync after that tears the pod down).
func podChangeMatters(old, pod *corev1.Pod, postedPhase corev1.PodPhase) bool {
	if !apiequality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
		!apiequality.Semantic.DeepEqual(old.Labels, pod.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Annotations, pod.Annotations) ||
		!old.DeletionTimestamp.Equal(pod.DeletionTimestamp) ||
		old.Status.Phase != pod.Status.Phase && (pod.Status.Phase != postedPhase || isTerminalPhase(pod.Status.Phase)) {
		return true
	}
	// Readiness gates read conditions that others set.
	return len(pod.Spec.ReadinessGates) > 0 && !apiequality.Semantic.DeepEqual(old.Status.Conditions, pod.Status.Conditions)
}

// forgetPod marks a pod deleted from the API; its sync cleans up whatever
// still runs.
func (k *Kubelet) forgetPod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	st := k.state(pod.UID, true)
	k.mu.Lock()
	if st.pod == nil {
		st.pod = pod
	}
	st.gone = true
	k.mu.Unlock()
	k.workers.Enqueue(pod.UID)
}

// snapshot returns the pod and flags of uid under the lock. The pod is
// shared with the informer's cache: never modify it.
func (k *Kubelet) snapshot(uid types.UID) (pod *corev1.Pod, gone, deleted bool, known bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, ok := k.pods[uid]
	if !ok {
		return nil, false, false, false
	}
	return st.pod, st.gone, st.deleted, true
}
