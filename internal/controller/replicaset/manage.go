package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// manageReplicas creates or deletes pods so that len(pods) moves toward
// spec.replicas, at most burst per sync, recording expectations first.
func (c *Controller) manageReplicas(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	diff := len(pods) - int(replicasOf(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.expectations.ExpectCreations(key, n)
		created, err := slowStartBatch(n, 1, func() error { return c.createPod(ctx, rs) })
		// Creations that failed or were skipped will never be observed.
		for range n - created {
			c.expectations.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, c.burst)
		victims := podsToDelete(pods, n)
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = controllerutil.KeyOf(p)
		}
		c.expectations.ExpectDeletions(key, keys)
		return c.deletePods(ctx, key, rs, victims)
	}
	return nil
}

// slowStartBatch calls fn count times, in batches of initial, 2*initial,
// 4*initial, ... run in parallel, stopping after the first batch with an
// error so that a failing create (quota, admission) costs one call, not
// hundreds. It returns the number of successful calls.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	done := 0
	for batch := min(count, initial); count-done > 0; batch = min(2*batch, count-done) {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		done += batch - len(errs)
		if len(errs) > 0 {
			return done, errors.Join(errs...)
		}
	}
	return done, nil
}

// newPod is the pod rs creates: its template, generateName "<rs>-" and a
// controller owner reference to rs.
func newPod(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    rs.Name + "-",
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(rs, controllerKind)},
		},
		Spec: t.Spec,
	}
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, newPod(rs), metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going away; nothing to report
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
	return nil
}

// deletePods deletes victims in parallel. A failed delete is an expected
// deletion that will never be observed, so it is lowered at once.
func (c *Controller) deletePods(ctx context.Context, key string, rs *appsv1.ReplicaSet, victims []*corev1.Pod) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, pod := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name,
				metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			switch {
			case err == nil:
				c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", pod.Name)
			case apierrors.IsNotFound(err):
				c.expectations.DeletionObserved(key, controllerutil.KeyOf(pod))
			default:
				c.expectations.DeletionObserved(key, controllerutil.KeyOf(pod))
				c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
