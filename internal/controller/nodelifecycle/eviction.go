package nodelifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// What an evicted pod carries, as upstream's taint manager writes it.
const (
	EventTaintManagerEviction     = "TaintManagerEviction"
	ReasonDeletionByTaintManager  = "DeletionByTaintManager"
	MessageDeletionByTaintManager = "Taint manager: deleting due to NoExecute taint"
)

// evictionState is what the eviction workers share: the pods with an
// eviction scheduled (to announce its cancellation), and when each
// NoExecute taint without timeAdded was first seen (its tolerationSeconds
// count from then).
type evictionState struct {
	mu        sync.Mutex
	scheduled map[string]time.Time            // pod key -> eviction time
	firstSeen map[string]map[string]time.Time // node -> taint key -> time
}

func newEvictionState() evictionState {
	return evictionState{scheduled: map[string]time.Time{}, firstSeen: map[string]map[string]time.Time{}}
}

// since is when the NoExecute taint on node began to count: its
// timeAdded, or else when it was first seen here.
func (s *evictionState) since(node string, t *corev1.Taint, now time.Time) time.Time {
	if t.TimeAdded != nil {
		return t.TimeAdded.Time
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen, ok := s.firstSeen[node]
	if !ok {
		seen = map[string]time.Time{}
		s.firstSeen[node] = seen
	}
	if at, ok := seen[t.Key]; ok {
		return at
	}
	seen[t.Key] = now
	return now
}

// pruneFirstSeen forgets the first sightings of taints node no longer has
// without timeAdded, so a taint added again counts afresh.
func (s *evictionState) pruneFirstSeen(node *corev1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := s.firstSeen[node.Name]
	for key := range seen {
		still := false
		for _, t := range node.Spec.Taints {
			still = still || (t.Key == key && t.Effect == corev1.TaintEffectNoExecute && t.TimeAdded == nil)
		}
		if !still {
			delete(seen, key)
		}
	}
}

func (s *evictionState) forgetNode(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.firstSeen, node)
}

func (s *evictionState) schedule(pod string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheduled[pod] = at
}

// unschedule drops pod's scheduled eviction and reports whether it had one.
func (s *evictionState) unschedule(pod string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.scheduled[pod]
	delete(s.scheduled, pod)
	return ok
}

// syncEviction decides for the pod with key whether it must leave its
// node now, later (it is queued again for then) or not at all.
func (c *Controller) syncEviction(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.evictions.unschedule(key)
		return nil
	}
	if err != nil {
		return err
	}
	var taints []corev1.Taint
	var node *corev1.Node
	if pod.DeletionTimestamp == nil && pod.Spec.NodeName != "" {
		if node, err = c.nodeLister.Get(pod.Spec.NodeName); err == nil {
			taints = noExecuteTaints(node)
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		// A pod of a deleted node is podgc's to delete.
	}
	now := c.now()
	at, evict := evictionTime(pod.Spec.Tolerations, taints, func(t *corev1.Taint) time.Time {
		return c.evictions.since(node.Name, t, now)
	})
	switch {
	case !evict:
		if c.evictions.unschedule(key) && pod.DeletionTimestamp == nil {
			c.evictionRecorder.Eventf(pod, corev1.EventTypeNormal, EventTaintManagerEviction, "Cancelling deletion of Pod %s", key)
		}
		return nil
	case at.After(now):
		c.evictions.schedule(key, at)
		c.evictionQueue.AddAfter(key, at.Sub(now))
		return nil
	}
	return c.evict(ctx, pod, key)
}

// evict marks pod as a disruption target and deletes it, gracefully.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod, key string) error {
	cond := findPodCondition(pod.Status.Conditions, corev1.DisruptionTarget)
	if cond == nil || cond.Status != corev1.ConditionTrue {
		err := c.patchPodCondition(ctx, pod, corev1.PodCondition{
			Type:               corev1.DisruptionTarget,
			Status:             corev1.ConditionTrue,
			Reason:             ReasonDeletionByTaintManager,
			Message:            MessageDeletionByTaintManager,
			LastTransitionTime: metav1.NewTime(c.now()),
		})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			c.evictions.unschedule(key)
			return nil
		}
		if err != nil {
			return fmt.Errorf("mark pod %s as disruption target: %w", key, err)
		}
	}
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
	switch {
	case err == nil:
		c.log.Info("evicted pod from NoExecute-tainted node", "pod", key, "node", pod.Spec.NodeName)
		c.evictionRecorder.Eventf(pod, corev1.EventTypeNormal, EventTaintManagerEviction, "Marking for deletion Pod %s", key)
	case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	c.evictions.unschedule(key)
	return nil
}
