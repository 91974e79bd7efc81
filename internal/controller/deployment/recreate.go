package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// rolloutRecreate scales every old ReplicaSet to zero, waits until none
// of their pods is left running, and only then creates (or scales up) the
// new ReplicaSet.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	scaledDown := false
	for i, rs := range old {
		if rsReplicas(rs) == 0 {
			continue
		}
		if old[i], err = c.scaleReplicaSet(ctx, d, rs, 0); err != nil {
			return err
		}
		scaledDown = true
	}
	if scaledDown || c.oldPodsRunning(old) {
		return c.syncStatus(ctx, d, newRS, old)
	}
	if newRS == nil {
		if newRS, old, err = c.getAllReplicaSets(ctx, d, rss, true); err != nil {
			return err
		}
	}
	if newRS, err = c.scaleReplicaSet(ctx, d, newRS, replicasOf(d)); err != nil {
		return err
	}
	if isComplete(d, c.calculateStatus(d, newRS, old)) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, d, newRS, old)
}

// oldPodsRunning reports whether any pod of the old ReplicaSets still
// exists and has not finished (terminating pods count: they may still run).
func (c *Controller) oldPodsRunning(old []*appsv1.ReplicaSet) bool {
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true
		}
		pods, err := c.podLister.Pods(rs.Namespace).List(labels.Everything())
		if err != nil {
			return true
		}
		for _, p := range pods {
			ref := metav1.GetControllerOf(p)
			if ref != nil && ref.UID == rs.UID &&
				p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return true
			}
		}
	}
	return false
}
