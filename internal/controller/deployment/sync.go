package deployment

import (
	"context"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync reconciles one Deployment. It works on a copy of the cached object.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		c.recorder.Eventf(d, "Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		return nil
	}
	rss, err := c.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, old := splitReplicaSets(d, rss)
		return c.syncStatus(ctx, d, newRS, old)
	}
	if d.Spec.Paused || c.isScalingEvent(d, rss) {
		return c.syncScale(ctx, d, rss)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return c.rolloutRecreate(ctx, d, rss)
	}
	return c.rolloutRolling(ctx, d, rss)
}

// isScalingEvent reports whether spec.replicas changed since the active
// ReplicaSets were last told (their desired-replicas annotation).
func (c *Controller) isScalingEvent(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) bool {
	want := d.Spec.Replicas
	for _, rs := range rss {
		if rsReplicas(rs) == 0 {
			continue
		}
		if v, ok := rs.Annotations[DesiredReplicasAnnotation]; ok && want != nil && v != itoa(*want) {
			return true
		}
	}
	return false
}

// syncScale handles a paused deployment or a scale without a template
// change: resize the ReplicaSets without rolling. With one active set it
// takes all replicas; with several (a rollout in flight) the difference
// is spread in proportion to their sizes, the newest taking leftovers.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	all := append([]*appsv1.ReplicaSet{}, old...)
	if newRS != nil {
		all = append(all, newRS)
	}
	var active []*appsv1.ReplicaSet
	for _, rs := range all {
		if rsReplicas(rs) > 0 {
			active = append(active, rs)
		}
	}
	targets := map[string]int32{}
	switch {
	case len(active) == 0 && newRS != nil && !d.Spec.Paused:
		targets[newRS.Name] = replicasOf(d)
	case len(active) == 1:
		targets[active[0].Name] = replicasOf(d)
	case len(active) > 1:
		targets = proportion(d, active)
	}
	for i, rs := range all {
		n, ok := targets[rs.Name]
		if !ok {
			continue
		}
		scaled, err := c.scaleReplicaSet(ctx, d, rs, n)
		if err != nil {
			return err
		}
		if rs == newRS {
			newRS = scaled
		} else {
			old[i] = scaled
		}
	}
	if d.Spec.Paused && isComplete(d, c.calculateStatus(d, newRS, old)) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, d, newRS, old)
}

// proportion spreads replicas+maxSurge over active sets in proportion to
// their current sizes.
func proportion(d *appsv1.Deployment, active []*appsv1.ReplicaSet) map[string]int32 {
	total := sumReplicas(active)
	allowed := replicasOf(d) + maxSurge(d)
	out := map[string]int32{}
	var given int32
	for _, rs := range active {
		n := int32(int64(rsReplicas(rs)) * int64(allowed) / int64(total))
		out[rs.Name] = n
		given += n
	}
	sort.SliceStable(active, func(i, j int) bool { return active[j].CreationTimestamp.Before(&active[i].CreationTimestamp) })
	out[active[0].Name] += allowed - given
	return out
}

// cleanup deletes the oldest fully scaled-down ReplicaSets beyond
// revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var idle []*appsv1.ReplicaSet
	for _, rs := range old {
		if rsReplicas(rs) == 0 && rs.Status.Replicas == 0 && rs.DeletionTimestamp == nil {
			idle = append(idle, rs)
		}
	}
	excess := len(idle) - int(*d.Spec.RevisionHistoryLimit)
	if excess <= 0 {
		return nil
	}
	sort.SliceStable(idle, func(i, j int) bool { return revision(idle[i]) < revision(idle[j]) })
	for _, rs := range idle[:excess] {
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &rs.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
