package kubelet

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podStatus computes the pod's status from the runtime and the
// kubelet's memory of failed starts.
func (k *Kubelet) podStatus(pod *corev1.Pod, pr *podRuntime, terminal bool) corev1.PodStatus {
	st := k.state(pod.UID, true)
	k.mu.Lock()
	waiting := make(map[string]*corev1.ContainerStateWaiting, len(st.waiting))
	for name, w := range st.waiting {
		waiting[name] = w
	}
	first := st.firstSeen
	k.mu.Unlock()
	return k.generatePodStatus(statusInput{
		pod: pod, pr: pr, waiting: waiting, terminal: terminal,
		startTime: first, now: metav1.NewTime(k.clock.Now()).Rfc3339Copy(),
	})
}

// postPodStatus computes and writes the pod's status.
func (k *Kubelet) postPodStatus(ctx context.Context, pod *corev1.Pod, pr *podRuntime, terminal bool) error {
	return k.updatePodStatus(ctx, pod, k.podStatus(pod, pr, terminal))
}

// updatePodStatus writes status when it differs from what the API server
// has (so an idle pod costs no writes). On a conflict it retries once on
// the current pod, keeping conditions that others set meanwhile. A pod
// that is gone (or replaced by another with the same name) is not an
// error.
func (k *Kubelet) updatePodStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) error {
	if statusUnchanged(&pod.Status, &status) {
		return nil
	}
	pods := k.client.CoreV1().Pods(pod.Namespace)
	p := pod.DeepCopy()
	p.Status = status
	updated, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(gerr) || gerr == nil && fresh.UID != pod.UID {
			return nil
		}
		if gerr != nil {
			return fmt.Errorf("update status: %w", gerr)
		}
		status.Conditions = mergeConditions(status.Conditions, fresh.Status.Conditions)
		if isTerminalPhase(fresh.Status.Phase) {
			status.Phase = fresh.Status.Phase
		}
		fresh = fresh.DeepCopy()
		fresh.Status = status
		updated, err = pods.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	k.mu.Lock()
	if st, ok := k.pods[pod.UID]; ok {
		st.postedPhase = updated.Status.Phase
		if st.pod != nil && st.pod.ResourceVersion == pod.ResourceVersion {
			st.pod = updated
		}
	}
	k.mu.Unlock()
	return nil
}

// statusUnchanged says the two statuses are semantically equal, as
// upstream's status manager judges them (apiequality.Semantic). Every pod
// sync asks, and the status is usually unchanged, which reflection takes
// long to establish; equal protobuf encodings settle it first. Equal
// encodings mean equal statuses (every PodStatus field is encoded, map
// keys in order; nil and empty read alike in both), so only statuses
// that encode differently pay for the semantic comparison, which also
// finds equal the ones whose quantities or times are spelled differently.
func statusUnchanged(a, b *corev1.PodStatus) bool {
	ab, aerr := a.Marshal()
	bb, berr := b.Marshal()
	if aerr == nil && berr == nil && bytes.Equal(ab, bb) {
		return true
	}
	return apiequality.Semantic.DeepEqual(*a, *b)
}

// mergeConditions keeps the kubelet's conditions from mine and everyone
// else's from theirs.
func mergeConditions(mine, theirs []corev1.PodCondition) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(mine)+len(theirs))
	seen := map[corev1.PodConditionType]bool{}
	for _, c := range mine {
		if kubeletConditions[c.Type] {
			out = append(out, c)
			seen[c.Type] = true
		}
	}
	for _, c := range theirs {
		if !seen[c.Type] {
			out = append(out, c)
			seen[c.Type] = true
		}
	}
	return out
}
