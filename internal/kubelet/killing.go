package kubelet

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// killUnwanted stops running containers that must go: those the spec no
// longer has, those whose image changed, and those a probe found
// unhealthy. It reports whether it stopped any.
func (k *Kubelet) killUnwanted(ctx context.Context, pod *corev1.Pod, st *podState, pr *podRuntime, sandboxID string) bool {
	k.mu.Lock()
	unhealthy := st.unhealthy
	st.unhealthy = map[string]ProbeFailure{}
	k.mu.Unlock()
	killed := false
	for _, rc := range pr.running() {
		spec := specForRuntime(pod, rc)
		var msg string
		f, bad := unhealthy[rc.Id]
		switch {
		case rc.sandboxID != sandboxID || !specHas(pod, rc.name()):
			msg = "Stopping container " + rc.name()
		case rc.Annotations[annotationHash] != "" && rc.Annotations[annotationHash] != containerHash(spec):
			msg = fmt.Sprintf("Container %s definition changed, will be restarted", rc.name())
		case bad:
			msg = fmt.Sprintf("Container %s failed %s probe, will be restarted", rc.name(), lowerFirst(string(f.Probe)))
		default:
			continue
		}
		grace := gracePeriodOf(pod)
		if bad {
			grace = probeGracePeriod(pod, spec, f.Probe, grace)
		}
		k.stopContainer(ctx, pod, spec, rc.Id, "Killing", grace, msg)
		killed = true
	}
	return killed
}

func specHas(pod *corev1.Pod, name string) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return true
			}
		}
	}
	return false
}

// probeGracePeriod is a failed probe's terminationGracePeriodSeconds when
// set, else the pod's.
func probeGracePeriod(pod *corev1.Pod, c *corev1.Container, probe ProbeType, def int64) int64 {
	var p *corev1.Probe
	switch probe {
	case LivenessProbe:
		p = c.LivenessProbe
	case StartupProbe:
		p = c.StartupProbe
	}
	if p != nil && p.TerminationGracePeriodSeconds != nil {
		return *p.TerminationGracePeriodSeconds
	}
	return def
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// activeDeadline is when spec.activeDeadlineSeconds runs out.
func activeDeadline(pod *corev1.Pod, now time.Time) (time.Time, bool) {
	if pod.Spec.ActiveDeadlineSeconds == nil {
		return time.Time{}, false
	}
	start := now
	if pod.Status.StartTime != nil {
		start = pod.Status.StartTime.Time
	}
	return start.Add(time.Duration(*pod.Spec.ActiveDeadlineSeconds) * time.Second), true
}

// failPod stops a pod for good and reports it Failed with reason.
func (k *Kubelet) failPod(ctx context.Context, pod *corev1.Pod, pr *podRuntime, reason, message string) error {
	st := k.state(pod.UID, true)
	k.markTerminal(st)
	k.podEvent(pod, corev1.EventTypeNormal, reason, message)
	k.probes.RemovePod(pod.UID)
	k.stopPod(ctx, pod, pr, -1)
	pr, err := k.readPodRuntime(ctx, pod.UID)
	if err != nil {
		return err
	}
	status := k.podStatus(pod, pr, true)
	status.Phase, status.Reason, status.Message = corev1.PodFailed, reason, message
	status.Conditions = k.podConditions(pod, &status, statusInput{pod: pod, pr: pr, now: metav1.NewTime(k.clock.Now()).Rfc3339Copy()})
	return k.updatePodStatus(ctx, pod, status)
}

func (k *Kubelet) markTerminal(st *podState) {
	k.mu.Lock()
	st.terminal = true
	k.mu.Unlock()
}
