package replicaset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// calculateStatus is rs's status given the active pods it owns and the
// error (if any) from creating or deleting pods in this sync.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	s := *rs.Status.DeepCopy()
	s.Replicas = int32(len(pods))
	s.FullyLabeledReplicas, s.ReadyReplicas, s.AvailableReplicas = 0, 0, 0
	templateLabels := labels.SelectorFromSet(rs.Spec.Template.Labels)
	for _, p := range pods {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			s.FullyLabeledReplicas++
		}
		if controllerutil.IsPodReady(p) {
			s.ReadyReplicas++
			if controllerutil.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				s.AvailableReplicas++
			}
		}
	}
	s.ObservedGeneration = rs.Generation
	failure := findCondition(s.Conditions, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := "FailedCreate"
		if int(replicasOf(rs)) < len(pods) {
			reason = "FailedDelete"
		}
		s.Conditions = append(s.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		s.Conditions = removeCondition(s.Conditions, appsv1.ReplicaSetReplicaFailure)
	}
	return s
}

func findCondition(cs []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

func removeCondition(cs []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range cs {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// updateStatus writes status through the status subresource when it
// differs from rs's, retrying once on a conflict against a fresh read. It
// returns the ReplicaSet as last known.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	client := c.client.AppsV1().ReplicaSets(rs.Namespace)
	for attempt := 0; ; attempt++ {
		if apiequality.Semantic.DeepEqual(rs.Status, status) {
			return rs, nil
		}
		cp := rs.DeepCopy()
		cp.Status = status
		updated, err := client.UpdateStatus(ctx, cp, metav1.UpdateOptions{})
		if err == nil {
			return updated, nil
		}
		if !apierrors.IsConflict(err) || attempt > 0 {
			return rs, err
		}
		fresh, gerr := client.Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return rs, err
		}
		rs = fresh
	}
}
