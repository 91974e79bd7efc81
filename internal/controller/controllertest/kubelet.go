// Package controllertest holds test helpers for skiff's controllers: a
// fake kubelet that binds pods to a node, marks them Running and Ready and
// finishes their graceful deletion, since no real kubelet runs in the
// in-process integration server. It owns no production code.
package controllertest

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// Kubelet pretends to be every node: it binds unscheduled pods to
// NodeName, reports them Running, and Ready once Ready(pod) allows it
// (checked again on every pod event and every 100ms), and removes pods
// whose graceful deletion has started.
type Kubelet struct {
	client   kubernetes.Interface
	NodeName string
	mu       sync.Mutex
	ready    func(*corev1.Pod) bool
	queue    workqueue.TypedRateLimitingInterface[string]
	store    cache.Store
	// nodes, when set, means the scheduler binds: the kubelet only runs
	// pods bound to one of these nodes and ignores pods on stopped ones,
	// which then stay as they were, like on a machine that went away.
	nodes *Nodes
}

// StartKubelet runs a fake kubelet for namespace ns until the test ends.
// By default every pod becomes ready at once.
func StartKubelet(t *testing.T, client kubernetes.Interface, ns string) *Kubelet {
	return startKubelet(t, client, ns, nil)
}

// StartNodeKubelet runs a fake kubelet for the pods of namespace ns that
// the scheduler binds to nodes (all namespaces if ns is ""); pods on nodes
// that were Stopped are left alone.
func StartNodeKubelet(t *testing.T, client kubernetes.Interface, ns string, nodes *Nodes) *Kubelet {
	return startKubelet(t, client, ns, nodes)
}

func startKubelet(t *testing.T, client kubernetes.Interface, ns string, nodes *Nodes) *Kubelet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	k := &Kubelet{client: client, NodeName: "node-1", ready: func(*corev1.Pod) bool { return true }, nodes: nodes,
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().Pods().Informer()
	add := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, o any) { add(o) }})
	k.store = inf.GetStore()
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for k.next(ctx) {
		}
	}()
	go func() { // re-check readiness of pods held back by Ready
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, key := range inf.GetStore().ListKeys() {
					k.queue.Add(key)
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		k.queue.ShutDown()
		f.Shutdown()
		wg.Wait()
	})
	return k
}

// SetReady replaces the readiness policy; pods already ready stay ready.
func (k *Kubelet) SetReady(f func(*corev1.Pod) bool) {
	k.mu.Lock()
	k.ready = f
	k.mu.Unlock()
}

func (k *Kubelet) allowReady(p *corev1.Pod) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ready(p)
}

func (k *Kubelet) next(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.syncPod(ctx, key); err != nil && ctx.Err() == nil {
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

func (k *Kubelet) syncPod(ctx context.Context, key string) error {
	obj, ok, err := k.store.GetByKey(key)
	if err != nil || !ok {
		return err
	}
	pod := obj.(*corev1.Pod)
	pods := k.client.CoreV1().Pods(pod.Namespace)
	if k.nodes != nil && (pod.Spec.NodeName == "" || k.nodes.Dead(pod.Spec.NodeName)) {
		return nil
	}
	switch {
	case pod.DeletionTimestamp != nil:
		zero := int64(0)
		err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
			Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Spec.NodeName == "":
		err := pods.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: k.NodeName},
		}, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	ready := isReady(pod)
	wantReady := ready || k.allowReady(pod)
	if pod.Status.Phase == corev1.PodRunning && ready == wantReady {
		return nil
	}
	cp := pod.DeepCopy()
	now := metav1.Now()
	cp.Status.Phase = corev1.PodRunning
	if cp.Status.StartTime == nil {
		cp.Status.StartTime = &now
	}
	status := corev1.ConditionFalse
	if wantReady {
		status = corev1.ConditionTrue
	}
	cp.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: status, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: status, LastTransitionTime: now},
	}
	cp.Status.ContainerStatuses = nil
	for _, c := range cp.Spec.Containers {
		cp.Status.ContainerStatuses = append(cp.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: wantReady, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *cp.Status.StartTime}},
		})
	}
	_, err = pods.UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
