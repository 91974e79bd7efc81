package deployment

import (
	"context"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as kubectl and users know them.
const (
	reasonNewRSCreated       = "NewReplicaSetCreated"
	reasonFoundNewRS         = "FoundNewReplicaSet"
	reasonRSUpdated          = "ReplicaSetUpdated"
	reasonNewRSAvailable     = "NewReplicaSetAvailable"
	reasonTimedOut           = "ProgressDeadlineExceeded"
	reasonPaused             = "DeploymentPaused"
	reasonResumed            = "DeploymentResumed"
	reasonMinimumAvailable   = "MinimumReplicasAvailable"
	reasonMinimumUnavailable = "MinimumReplicasUnavailable"
)

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func newCondition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
}

func getCondition(s appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// setCondition replaces the condition of c's type, keeping the transition
// time when the status did not change and leaving the condition alone
// when nothing about it changed.
func setCondition(s *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := getCondition(*s, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason && cur.Message == c.Message {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	if cur != nil {
		*cur = c
		return
	}
	s.Conditions = append(s.Conditions, c)
}

// calculateStatus is d's status from its ReplicaSets, conditions aside.
func (c *Controller) calculateStatus(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) appsv1.DeploymentStatus {
	s := *d.Status.DeepCopy()
	s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas = 0, 0, 0, 0
	for _, rs := range append(append([]*appsv1.ReplicaSet{}, old...), newRS) {
		if rs == nil {
			continue
		}
		s.Replicas += rs.Status.Replicas
		s.ReadyReplicas += rs.Status.ReadyReplicas
		s.AvailableReplicas += rs.Status.AvailableReplicas
	}
	if newRS != nil {
		s.UpdatedReplicas = newRS.Status.Replicas
	}
	s.UnavailableReplicas = max(0, replicasOf(d)-s.AvailableReplicas)
	s.ObservedGeneration = d.Generation
	_, maxUnavail := maxSurgeUnavailable(d)
	if s.AvailableReplicas >= replicasOf(d)-maxUnavail {
		setCondition(&s, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable,
			"Deployment has minimum availability.", c.clock.Now()))
	} else {
		setCondition(&s, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinimumUnavailable,
			"Deployment does not have minimum availability.", c.clock.Now()))
	}
	return s
}

// isComplete reports whether every replica is updated and available and
// no old one is left: what `kubectl rollout status` waits for.
func isComplete(d *appsv1.Deployment, s appsv1.DeploymentStatus) bool {
	n := replicasOf(d)
	return s.UpdatedReplicas == n && s.Replicas == n && s.AvailableReplicas == n && s.ObservedGeneration >= d.Generation
}

// syncStatus computes d's status with its Progressing condition and writes
// it when it changed; while a rollout is in flight it requeues d for when
// its progress deadline would pass.
func (c *Controller) syncStatus(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	s := c.calculateStatus(d, newRS, old)
	now := c.clock.Now()
	var requeue time.Duration
	if d.Spec.ProgressDeadlineSeconds != nil {
		cond := getCondition(s, appsv1.DeploymentProgressing)
		name := ""
		if newRS != nil {
			name = newRS.Name
		}
		switch {
		case d.Spec.Paused:
			if cond == nil || cond.Reason != reasonPaused {
				setCondition(&s, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", now))
			}
		case cond != nil && cond.Reason == reasonPaused:
			setCondition(&s, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", now))
		case isComplete(d, s) && newRS != nil:
			setCondition(&s, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable,
				fmt.Sprintf("ReplicaSet %q has successfully progressed.", name), now))
		case isProgressing(d.Status, s) && newRS != nil:
			// Progress resets the deadline: LastUpdateTime moves on.
			nc := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated,
				fmt.Sprintf("ReplicaSet %q is progressing.", name), now)
			if cond != nil && cond.Status == corev1.ConditionTrue {
				nc.LastTransitionTime = cond.LastTransitionTime
			}
			removeCondition(&s, appsv1.DeploymentProgressing)
			s.Conditions = append(s.Conditions, nc)
		case cond != nil && cond.Reason != reasonTimedOut:
			deadline := cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
			if !now.Before(deadline) {
				setCondition(&s, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut,
					fmt.Sprintf("ReplicaSet %q has timed out progressing.", name), now))
			} else {
				requeue = deadline.Sub(now) + 100*time.Millisecond
			}
		}
		if cond := getCondition(s, appsv1.DeploymentProgressing); cond != nil && !isComplete(d, s) &&
			cond.Reason != reasonTimedOut && !d.Spec.Paused && requeue == 0 {
			requeue = time.Duration(*d.Spec.ProgressDeadlineSeconds)*time.Second + 100*time.Millisecond
		}
	}
	if requeue > 0 {
		c.queue.AddAfter(d.Namespace+"/"+d.Name, requeue)
	}
	// d.Status may carry conditions set earlier in this sync: compare
	// with what the cache holds.
	if cached, err := c.dLister.Deployments(d.Namespace).Get(d.Name); err == nil &&
		cached.UID == d.UID && apiequality.Semantic.DeepEqual(s, cached.Status) {
		return nil
	}
	cp := d.DeepCopy()
	cp.Status = s
	_, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	return err
}

func removeCondition(s *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range s.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	s.Conditions = out
}

// isProgressing reports whether the rollout moved since the last status:
// more updated, ready or available replicas, or fewer old ones.
func isProgressing(prev, cur appsv1.DeploymentStatus) bool {
	oldPrev := prev.Replicas - prev.UpdatedReplicas
	oldCur := cur.Replicas - cur.UpdatedReplicas
	return cur.UpdatedReplicas > prev.UpdatedReplicas || cur.ReadyReplicas > prev.ReadyReplicas ||
		cur.AvailableReplicas > prev.AvailableReplicas || oldCur < oldPrev
}
