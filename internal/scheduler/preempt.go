package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// preempt is the PostFilter step for a pod no node fits (snap and diag are
// the failed decision's): it plans preemption and carries the plan out —
// victims marked DisruptionTarget, deleted with their grace period and told
// by a Preempted event; the pod nominated to the node; lower-priority pods
// nominated there un-nominated. It returns the tail of the failure
// message, the nomination to publish in the pod's status (nil: leave it),
// and an error when evicting failed (the pod then backs off and retries).
func (s *Scheduler) preempt(ctx context.Context, pi *framework.PodInfo, snap *framework.Snapshot, diag *framework.Diagnosis) (string, *string, error) {
	pod := pi.Pod
	nominated := s.nominatedNodeOf(pod)
	plan, msg := planPreemption(s.cfg.Framework, pi, snap, diag, nominated, s.preemptOffset, time.Now())
	s.preemptOffset++
	if plan == nil {
		if msg == msgPolicyNever || msg == msgTerminatingVictim {
			// Not eligible: a nomination made earlier stands.
			return preemptionMessage(msg), nil, nil
		}
		s.nominator.Forget(pod.UID)
		none := ""
		return preemptionMessage(msg), &none, nil
	}
	for _, victim := range plan.Victims {
		if err := s.evict(ctx, pod, victim, plan.Node); err != nil {
			return "", nil, fmt.Errorf("preempting %s: %w", podKey(victim), err)
		}
	}
	s.log.Info("preempted pods", "pod", podKey(pod), "node", plan.Node, "victims", len(plan.Victims))
	s.nominator.Nominate(pod, plan.Node)
	s.unnominateLower(ctx, pod, plan.Node)
	return "", &plan.Node, nil
}

// nominatedNodeOf is the node pod waits for: this scheduler's nomination,
// else the one in its status.
func (s *Scheduler) nominatedNodeOf(pod *corev1.Pod) string {
	if n := s.nominator.NodeOf(pod.UID); n != "" {
		return n
	}
	return pod.Status.NominatedNodeName
}

// evict marks victim as a disruption target, deletes it (its own grace
// period; the UID precondition spares a namesake created since) and
// records the Preempted event. A victim already gone is no error.
func (s *Scheduler) evict(ctx context.Context, preemptor, victim *corev1.Pod, node string) error {
	cond := corev1.PodCondition{
		Type:    corev1.DisruptionTarget,
		Status:  corev1.ConditionTrue,
		Reason:  corev1.PodReasonPreemptionByScheduler,
		Message: fmt.Sprintf("%s: preempting to accommodate a higher priority pod", preemptor.Spec.SchedulerName),
	}
	if updated, changed := withCondition(victim, cond, metav1.NewTime(time.Now())); changed {
		if err := s.patchPodStatus(ctx, victim, updated); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	err := s.client.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &victim.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	s.recorder.Eventf(victim, preemptor, corev1.EventTypeNormal, "Preempted", "Preempting",
		"Preempted by pod %v on node %v", preemptor.UID, node)
	return nil
}

// unnominateLower takes node's nomination from the pods of lower priority
// than pod: they may no longer fit there, and must look elsewhere.
func (s *Scheduler) unnominateLower(ctx context.Context, pod *corev1.Pod, node string) {
	prio := podPriority(pod)
	for _, p := range s.nominator.OnNode(node) {
		if p.UID == pod.UID || podPriority(p) >= prio {
			continue
		}
		s.nominator.Forget(p.UID)
		if p.Status.NominatedNodeName == "" {
			continue
		}
		cleared := p.DeepCopy()
		cleared.Status.NominatedNodeName = ""
		if err := s.patchPodStatus(ctx, p, cleared); err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			s.log.Info("clearing nominated node", "pod", podKey(p), "err", err)
		}
	}
}

// patchPodStatus writes the difference between old's and updated's status
// as a strategic merge patch, which, unlike an update, does not fail when
// the kubelet has written the pod in between.
func (s *Scheduler) patchPodStatus(ctx context.Context, old, updated *corev1.Pod) error {
	oldJSON, err := json.Marshal(corev1.Pod{Status: old.Status})
	if err != nil {
		return err
	}
	newJSON, err := json.Marshal(corev1.Pod{Status: updated.Status})
	if err != nil {
		return err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, &corev1.Pod{})
	if err != nil {
		return err
	}
	if string(patch) == "{}" {
		return nil
	}
	_, err = s.client.CoreV1().Pods(old.Namespace).Patch(ctx, old.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}
