package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// claimReplicaSets returns the ReplicaSets d controls, adopting matching
// orphans and releasing owned ones that no longer match its selector.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := controllerutil.OwnedOrOrphaned[*appsv1.ReplicaSet](c.rsIndexer, d.Namespace, d.UID)
	if err != nil {
		return nil, err
	}
	var owned []*appsv1.ReplicaSet
	for _, rs := range all {
		matches := sel.Matches(labels.Set(rs.Labels))
		ref := metav1.GetControllerOf(rs)
		switch {
		case ref != nil && ref.UID != d.UID:
		case ref != nil && matches:
			owned = append(owned, rs)
		case ref != nil:
			if d.DeletionTimestamp == nil {
				if err := c.patchRS(ctx, rs, controllerutil.ReleasePatch(d.UID, rs.UID)); err != nil {
					return nil, err
				}
			}
		case matches && d.DeletionTimestamp == nil && rs.DeletionTimestamp == nil:
			if err := c.patchRS(ctx, rs, controllerutil.AdoptPatch(d, controllerKind, rs.UID)); err != nil {
				return nil, err
			}
			owned = append(owned, rs)
		}
	}
	return owned, nil
}

func (c *Controller) patchRS(ctx context.Context, rs *appsv1.ReplicaSet, patch []byte) error {
	_, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// splitReplicaSets finds the ReplicaSet whose template is d's (the oldest
// one if several) and returns it (or nil) and the others.
func splitReplicaSets(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := append([]*appsv1.ReplicaSet(nil), rss...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].CreationTimestamp, sorted[j].CreationTimestamp
		if a.Equal(&b) {
			return sorted[i].Name < sorted[j].Name
		}
		return a.Before(&b)
	})
	var newRS *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, revision(rs))
	}
	return m
}

// setReplicaSetAnnotations gives rs the deployment's own annotations (such
// as kubernetes.io/change-cause), its revision and the replica counts; it
// reports whether anything changed. rs must be a copy.
func setReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, rev int64) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	set := func(k, v string) {
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	for k, v := range d.Annotations {
		switch k {
		case lastAppliedAnnotation, RevisionAnnotation, RevisionHistoryAnnotation, DesiredReplicasAnnotation, MaxReplicasAnnotation:
		default:
			set(k, v)
		}
	}
	if revision(rs) < rev {
		set(RevisionAnnotation, strconv.FormatInt(rev, 10))
	}
	return setReplicasAnnotations(d, rs) || changed
}

// setReplicasAnnotations records d's desired and maximum replicas on rs (a
// copy) and reports whether they changed.
func setReplicasAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	desired := strconv.Itoa(int(replicasOf(d)))
	maxR := strconv.Itoa(int(replicasOf(d) + maxSurge(d)))
	if rs.Annotations[DesiredReplicasAnnotation] == desired && rs.Annotations[MaxReplicasAnnotation] == maxR {
		return false
	}
	rs.Annotations[DesiredReplicasAnnotation] = desired
	rs.Annotations[MaxReplicasAnnotation] = maxR
	return true
}

// getAllReplicaSets returns d's new ReplicaSet (creating it when create
// is set and it does not exist) and its old ones, and brings the revision
// annotations of the new ReplicaSet and of d up to date.
func (c *Controller) getAllReplicaSets(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := splitReplicaSets(d, rss)
	rev := maxRevision(old) + 1
	var err error
	switch {
	case newRS != nil:
		cp := newRS.DeepCopy()
		if setReplicaSetAnnotations(d, cp, rev) {
			if newRS, err = c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil {
				return nil, nil, err
			}
		}
		if cond := getCondition(d.Status, appsv1.DeploymentProgressing); d.Spec.ProgressDeadlineSeconds != nil && cond == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, "True", reasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", newRS.Name), c.clock.Now()))
		}
	case create:
		if newRS, err = c.createNewReplicaSet(ctx, d, old, rev); err != nil {
			return nil, nil, err
		}
	}
	if newRS != nil && d.Annotations[RevisionAnnotation] != newRS.Annotations[RevisionAnnotation] {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[RevisionAnnotation] = newRS.Annotations[RevisionAnnotation]
		// Through /status, as upstream: an annotation written by the
		// controller must not bump generation (which a main-resource
		// annotation change does).
		updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		if err != nil {
			return nil, nil, err
		}
		status := d.Status
		*d = *updated
		d.Status = status // keep conditions computed in this sync
	}
	return newRS, old, nil
}

func (c *Controller) createNewReplicaSet(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet, rev int64) (*appsv1.ReplicaSet, error) {
	hash := ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[HashLabel] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[HashLabel] = hash
	replicas := newReplicaSetReplicas(d, old, nil)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(d, controllerKind)},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: *tmpl},
	}
	setReplicaSetAnnotations(d, rs, rev)
	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == d.UID && equalIgnoreHash(&existing.Spec.Template, &d.Spec.Template) {
			return existing, nil // our cache lags behind our own create
		}
		// A hash collision: bump collisionCount so the next hash differs.
		n := int32(0)
		if d.Status.CollisionCount != nil {
			n = *d.Status.CollisionCount
		}
		n++
		d.Status.CollisionCount = &n
		if _, uerr := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("replica set %s exists with another template: collisionCount now %d", rs.Name, n)
	}
	if err != nil {
		if d.Spec.ProgressDeadlineSeconds != nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, "False", "ReplicaSetCreateError",
				fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err), c.clock.Now()))
			_, _ = c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		}
		return nil, err
	}
	if replicas > 0 {
		c.recorder.Eventf(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, replicas)
	}
	if d.Spec.ProgressDeadlineSeconds != nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, "True", reasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), c.clock.Now()))
	}
	return created, nil
}

// scaleReplicaSet sets rs's replicas (and replica annotations) to n.
func (c *Controller) scaleReplicaSet(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, n int32) (*appsv1.ReplicaSet, error) {
	from := *rs.Spec.Replicas
	cp := rs.DeepCopy()
	annotationsChanged := setReplicasAnnotations(d, cp)
	if from == n && !annotationsChanged {
		return rs, nil
	}
	cp.Spec.Replicas = &n
	updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	if from != n {
		verb := "up"
		if n < from {
			verb = "down"
		}
		c.recorder.Eventf(d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", verb, rs.Name, from, n)
	}
	return updated, nil
}
