package scheduler

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins"
)

// Cluster events retry the unschedulable pods they may help, as upstream's
// queueing hints do: a node added or changed, or an assigned pod gone
// (resources, ports, spread and anti-affinity freed), retries every parked
// pod; an assigned pod added or relabelled retries those rejected by
// inter-pod affinity or topology spread (a partner or a matching pod
// appeared, domain counts changed), and a namespace added or relabelled
// those rejected by inter-pod affinity (namespaceSelectors).
var (
	podLabelPlugins       = []string{plugins.InterPodAffinity{}.Name(), plugins.PodTopologySpread{}.Name()}
	namespaceLabelPlugins = []string{plugins.InterPodAffinity{}.Name()}
)

// podHandler routes pod events: assigned pods feed the cache (and wake
// the unschedulable pods they may help), pending pods of this scheduler
// feed the queue.
func (s *Scheduler) podHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				s.onPod(nil, pod)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, _ := oldObj.(*corev1.Pod)
			pod, ok := newObj.(*corev1.Pod)
			if ok {
				s.onPod(old, pod)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return
			}
			s.queue.Delete(podKey(pod))
			s.nominator.Forget(pod.UID)
			s.cache.RemovePod(pod.UID)
			if pod.Spec.NodeName != "" {
				s.queue.MoveAll()
			}
		},
	}
}

// onPod handles an added (old == nil) or updated pod.
func (s *Scheduler) onPod(old, pod *corev1.Pod) {
	key := podKey(pod)
	if pod.Spec.NodeName != "" {
		s.queue.Delete(key)
		s.nominator.Forget(pod.UID)
		if framework.IsTerminal(pod) {
			s.cache.RemovePod(pod.UID)
			if old != nil && !framework.IsTerminal(old) {
				s.queue.MoveAll()
			}
			return
		}
		s.cache.SetPod(pod)
		// Newly assigned (created bound, or its binding confirmed), or
		// relabelled.
		if old == nil || old.Spec.NodeName == "" || framework.IsTerminal(old) || !maps.Equal(old.Labels, pod.Labels) {
			s.queue.Move(podLabelPlugins...)
		}
		return
	}
	if !s.responsibleFor(pod) {
		s.queue.Delete(key)
		s.nominator.Forget(pod.UID)
		return
	}
	s.nominator.Update(old, pod)
	// Status-only writes (ours included) do not make a pod more schedulable.
	if old != nil && equality.Semantic.DeepEqual(old.Spec, pod.Spec) &&
		equality.Semantic.DeepEqual(old.Labels, pod.Labels) {
		return
	}
	s.queue.Add(key, podPriority(pod))
}

// responsibleFor says whether pod is a pending pod this scheduler serves.
func (s *Scheduler) responsibleFor(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == s.cfg.SchedulerName && pod.Spec.NodeName == "" &&
		pod.DeletionTimestamp == nil && !framework.IsTerminal(pod)
}

// nodeHandler keeps the cache's nodes and retries unschedulable pods when
// a node appears or changes in a way that may admit them.
func (s *Scheduler) nodeHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if node, ok := obj.(*corev1.Node); ok {
				s.cache.SetNode(node)
				s.queue.MoveAll()
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, _ := oldObj.(*corev1.Node)
			node, ok := newObj.(*corev1.Node)
			if !ok {
				return
			}
			s.cache.SetNode(node)
			if old == nil || nodeSchedulingChanged(old, node) {
				s.queue.MoveAll()
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if node, ok := obj.(*corev1.Node); ok {
				s.cache.RemoveNode(node.Name)
			}
		},
	}
}

// nodeSchedulingChanged ignores heartbeats: only what filters read counts.
func nodeSchedulingChanged(old, node *corev1.Node) bool {
	return !equality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable)
}

// namespaceHandler keeps the namespaces' labels for namespaceSelectors.
func (s *Scheduler) namespaceHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok {
				s.cache.SetNamespace(ns)
				s.queue.Move(namespaceLabelPlugins...)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, _ := oldObj.(*corev1.Namespace)
			ns, ok := newObj.(*corev1.Namespace)
			if !ok {
				return
			}
			s.cache.SetNamespace(ns)
			if old == nil || !maps.Equal(old.Labels, ns.Labels) {
				s.queue.Move(namespaceLabelPlugins...)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if ns, ok := obj.(*corev1.Namespace); ok {
				s.cache.RemoveNamespace(ns.Name)
			}
		},
	}
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
