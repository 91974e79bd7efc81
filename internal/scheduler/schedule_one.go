package scheduler

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// scheduleOne takes one key off the queue, decides, assumes and hands the
// bind to the binders. It returns false once the queue is closed (or ctx
// ended while it waited for a binder).
func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	key, ok := s.queue.Pop()
	if !ok {
		return false
	}
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		s.queue.Delete(key)
		return true
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if err != nil || !s.responsibleFor(pod) || s.cache.IsAssumed(pod.UID) {
		// Gone, bound, or not ours: nothing to do.
		s.queue.Done(key)
		return true
	}
	pi := framework.NewPodInfo(pod)
	// Pods nominated to a node hold their room there against pods of
	// lower priority.
	s.cache.UpdateSnapshot(s.snapshot)
	snap := s.nominator.WithNominated(s.snapshot, pod)
	node, diag := s.decide(pi, snap)
	if node == "" {
		msg := diag.Message()
		unschedulable := true
		var nominate *string
		if !s.cfg.DisablePreemption {
			tail, nom, err := s.preempt(ctx, pi, snap, diag)
			if err != nil {
				s.log.Info("preemption failed", "pod", key, "err", err)
				unschedulable = false
			}
			msg += tail
			nominate = nom
		}
		s.log.Debug("pod unschedulable", "pod", key, "reason", msg)
		s.queue.Failed(key, unschedulable, rejectingPlugins(diag)...)
		go s.recordFailure(ctx, pod, msg, nominate)
		return true
	}
	s.nominator.Forget(pod.UID)
	// Assume: charge the pod to the node now, so the next decision counts
	// it, and bind in the background. The cached pod is never modified, so
	// the assumed pod is a copy.
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = node
	api := *pi
	api.Pod = assumed
	s.cache.Assume(&api)
	if !s.enqueueBind(ctx, bindRequest{key: key, pod: assumed, node: node}) {
		s.cache.Forget(pod.UID)
		return false
	}
	return true
}

// rejectingPlugins names the plugins that rejected some node, each once:
// the events that concern them are the ones that may let the pod in.
func rejectingPlugins(diag *framework.Diagnosis) []string {
	var out []string
	for _, st := range diag.Failed {
		if !slices.Contains(out, st.Plugin) {
			out = append(out, st.Plugin)
		}
	}
	return out
}

// decide picks a node for pi: the node it is nominated to if it fits
// there now (its victims are gone), else the best node of snap.
func (s *Scheduler) decide(pi *framework.PodInfo, snap *framework.Snapshot) (string, *framework.Diagnosis) {
	if nominated := s.nominatedNodeOf(pi.Pod); nominated != "" {
		if i := snap.Index(nominated); i >= 0 && filterNode(s.cfg.Framework.ForCycle(pi, snap), pi, snap.Nodes[i]) == nil {
			return nominated, &framework.Diagnosis{NumNodes: len(snap.Nodes)}
		}
	}
	node, diag, next := s.cfg.Framework.ScheduleFrom(pi, snap, s.nextStart)
	s.nextStart = next
	return node, diag
}

// bind posts the binding. On failure the assumed pod is forgotten and the
// pod retried with backoff, unless it is already bound (409), which the
// informer will show.
func (s *Scheduler) bind(ctx context.Context, key string, pod *corev1.Pod, node string) {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	switch {
	case err == nil:
		s.queue.Done(key)
		s.recorder.Eventf(pod, nil, corev1.EventTypeNormal, "Scheduled", "Binding",
			"Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		s.cache.Forget(pod.UID)
		s.queue.Done(key)
	default:
		s.cache.Forget(pod.UID)
		s.queue.Failed(key, false)
		if ctx.Err() != nil {
			return
		}
		s.log.Info("binding failed", "pod", key, "node", node, "err", err)
		s.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling",
			"Binding rejected: %v", err)
	}
}

// recordFailure tells the user: a FailedScheduling event and the
// PodScheduled=False/Unschedulable condition with the summary message,
// written together with the nominated node when nominate is set ("" clears
// it).
func (s *Scheduler) recordFailure(ctx context.Context, pod *corev1.Pod, msg string, nominate *string) {
	s.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "%s", msg)
	cond := corev1.PodCondition{
		Type:    corev1.PodScheduled,
		Status:  corev1.ConditionFalse,
		Reason:  corev1.PodReasonUnschedulable,
		Message: msg,
	}
	updated, changed := withCondition(pod, cond, metav1.NewTime(time.Now()))
	if nominate != nil && pod.Status.NominatedNodeName != *nominate {
		if !changed {
			updated = pod.DeepCopy()
		}
		updated.Status.NominatedNodeName = *nominate
		changed = true
	}
	if !changed {
		return
	}
	err := s.patchPodStatus(ctx, pod, updated)
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Info("updating PodScheduled condition", "pod", podKey(pod), "err", err)
	}
}

// withCondition returns a copy of pod with cond set, and whether anything
// changed. lastTransitionTime moves only when the status does.
func withCondition(pod *corev1.Pod, cond corev1.PodCondition, now metav1.Time) (*corev1.Pod, bool) {
	for i, c := range pod.Status.Conditions {
		if c.Type != cond.Type {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return pod, false
		}
		out := pod.DeepCopy()
		cond.LastProbeTime = c.LastProbeTime
		cond.LastTransitionTime = c.LastTransitionTime
		if c.Status != cond.Status {
			cond.LastTransitionTime = now
		}
		out.Status.Conditions[i] = cond
		return out, true
	}
	out := pod.DeepCopy()
	cond.LastTransitionTime = now
	out.Status.Conditions = append(out.Status.Conditions, cond)
	return out, true
}
