package replicaset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

func secondsDuration(s int32) time.Duration { return time.Duration(s) * time.Second }

// sync reconciles one ReplicaSet: claim its pods, create or delete pods
// when the cache can be trusted, then write status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || selector.Empty() {
		// The API server validates selectors; nothing sensible to do.
		return nil
	}
	needsManage := c.expectations.Satisfied(key) && rs.DeletionTimestamp == nil

	// Only the pods rs controls and orphans can be claimed.
	all, err := controllerutil.OwnedOrOrphaned[*corev1.Pod](c.podIndexer, ns, rs.UID)
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, rs, selector, controllerutil.FilterActivePods(all))
	if err != nil {
		return err
	}
	var manageErr error
	if needsManage {
		manageErr = c.manageReplicas(ctx, key, rs, pods)
	}
	status := calculateStatus(rs, pods, manageErr, c.clock.Now())
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicasOf(updated) &&
		updated.Status.AvailableReplicas != replicasOf(updated) {
		c.queue.AddAfter(key, secondsDuration(updated.Spec.MinReadySeconds))
	}
	return manageErr
}

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// claimPods returns the pods rs owns after adopting matching orphans and
// releasing owned pods that no longer match. Pods controlled by another
// owner are never touched.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var (
		owned    []*corev1.Pod
		errs     []error
		canAdopt *bool
	)
	for _, pod := range pods {
		matches := selector.Matches(labels.Set(pod.Labels))
		ref := metav1.GetControllerOf(pod)
		switch {
		case ref != nil && ref.UID != rs.UID:
			continue
		case ref != nil && matches:
			owned = append(owned, pod)
		case ref != nil:
			if rs.DeletionTimestamp != nil {
				continue
			}
			if err := c.patchPod(ctx, pod, controllerutil.ReleasePatch(rs.UID, pod.UID)); err != nil {
				errs = append(errs, err)
			}
		case matches && rs.DeletionTimestamp == nil && pod.DeletionTimestamp == nil:
			if canAdopt == nil {
				ok := c.canAdopt(ctx, rs)
				canAdopt = &ok
			}
			if !*canAdopt {
				continue
			}
			if err := c.patchPod(ctx, pod, controllerutil.AdoptPatch(rs, controllerKind, pod.UID)); err != nil {
				errs = append(errs, err)
				continue
			}
			owned = append(owned, pod)
		}
	}
	if len(errs) > 0 {
		return owned, fmt.Errorf("claiming pods of %s/%s: %v", rs.Namespace, rs.Name, errs)
	}
	return owned, nil
}

// canAdopt re-reads rs from the API server: the cache may not yet show
// that it is being deleted, and adopting then would orphan the pods.
func (c *Controller) canAdopt(ctx context.Context, rs *appsv1.ReplicaSet) bool {
	fresh, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	return err == nil && fresh.UID == rs.UID && fresh.DeletionTimestamp == nil
}

func (c *Controller) patchPod(ctx context.Context, pod *corev1.Pod, patch []byte) error {
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil // gone already: neither ours nor anyone's
	}
	return err
}
