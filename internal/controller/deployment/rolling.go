package deployment

import (
	"context"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

// maxSurgeUnavailable resolves the rolling parameters against replicas:
// surge rounds up, unavailable rounds down, and both zero means one may
// be unavailable so that a rollout can make progress.
func maxSurgeUnavailable(d *appsv1.Deployment) (surge, unavailable int32) {
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil {
		return 0, 0
	}
	n := int(replicasOf(d))
	def := intstr.FromString("25%")
	s, u := ru.MaxSurge, ru.MaxUnavailable
	if s == nil {
		s = &def
	}
	if u == nil {
		u = &def
	}
	sv, err1 := intstr.GetScaledValueFromIntOrPercent(s, n, true)
	uv, err2 := intstr.GetScaledValueFromIntOrPercent(u, n, false)
	if err1 != nil || err2 != nil {
		return 0, 1
	}
	if sv == 0 && uv == 0 {
		uv = 1
	}
	return int32(sv), int32(min(uv, n))
}

func maxSurge(d *appsv1.Deployment) int32 { s, _ := maxSurgeUnavailable(d); return s }

// available counts rs's available pods, never more than it is asked to
// keep: status lags behind a scale-down we just made.
func available(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return min(rs.Status.AvailableReplicas, rsReplicas(rs))
}

func sumReplicas(rss []*appsv1.ReplicaSet) (n int32) {
	for _, rs := range rss {
		n += rsReplicas(rs)
	}
	return n
}

// newReplicaSetReplicas is how many replicas the new ReplicaSet may have
// now: all of them for Recreate, within maxSurge for RollingUpdate.
func newReplicaSetReplicas(d *appsv1.Deployment, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicasOf(d)
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return want
	}
	cur := rsReplicas(newRS)
	if cur >= want {
		return want
	}
	total := sumReplicas(old) + cur
	room := want + maxSurge(d) - total
	if room <= 0 {
		return cur
	}
	return cur + min(room, want-cur)
}

// rolloutRolling moves one step of a rolling update: scale the new
// ReplicaSet up within maxSurge, else scale old ones down within
// maxUnavailable.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rss, true)
	if err != nil {
		return err
	}
	if n := newReplicaSetReplicas(d, old, newRS); n != rsReplicas(newRS) {
		if newRS, err = c.scaleReplicaSet(ctx, d, newRS, n); err != nil {
			return err
		}
		return c.syncStatus(ctx, d, newRS, old)
	}
	if old, err = c.scaleDownOld(ctx, d, newRS, old); err != nil {
		return err
	}
	if isComplete(d, c.calculateStatus(d, newRS, old)) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, d, newRS, old)
}

// scaleDownOld scales old ReplicaSets down, oldest first, by as much as
// keeps replicas-maxUnavailable pods available.
func (c *Controller) scaleDownOld(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) ([]*appsv1.ReplicaSet, error) {
	if sumReplicas(old) == 0 {
		return old, nil
	}
	_, maxUnavail := maxSurgeUnavailable(d)
	minAvailable := replicasOf(d) - maxUnavail
	avail := available(newRS)
	for _, rs := range old {
		avail += available(rs)
	}
	// Unavailable pods of old sets go first: removing them costs nothing.
	budget := avail - minAvailable
	sort.SliceStable(old, func(i, j int) bool { return old[i].CreationTimestamp.Before(&old[j].CreationTimestamp) })
	out := make([]*appsv1.ReplicaSet, len(old))
	for i, rs := range old {
		out[i] = rs
		cur := rsReplicas(rs)
		if cur == 0 {
			continue
		}
		down := cur - available(rs) // unavailable ones
		if budget > 0 {
			down += min(budget, available(rs))
			budget -= min(budget, available(rs))
		}
		if down <= 0 {
			continue
		}
		scaled, err := c.scaleReplicaSet(ctx, d, rs, cur-down)
		if err != nil {
			return nil, err
		}
		out[i] = scaled
	}
	return out, nil
}
