package kubelet

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Condition reasons, as upstream's.
const (
	reasonContainersNotInitialized = "ContainersNotInitialized"
	reasonContainersNotReady       = "ContainersNotReady"
	reasonReadinessGatesNotReady   = "ReadinessGatesNotReady"
	reasonPodCompleted             = "PodCompleted"
	reasonPodFailed                = "PodFailed"
)

// kubeletConditions are the pod conditions the kubelet owns.
var kubeletConditions = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true,
	corev1.PodInitialized:            true,
	corev1.PodReady:                  true,
	corev1.ContainersReady:           true,
}

// podConditions computes the kubelet's conditions, in upstream's order,
// followed by the others the pod already has (PodScheduled first).
// Transition times carry over while a condition's status is unchanged.
func (k *Kubelet) podConditions(pod *corev1.Pod, s *corev1.PodStatus, in statusInput) []corev1.PodCondition {
	sandboxReady := corev1.ConditionFalse
	if sb := in.pr.readySandbox(); sb != nil && (pod.Spec.HostNetwork || len(sandboxIPs(sb)) > 0) {
		sandboxReady = corev1.ConditionTrue
	}
	conds := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: sandboxReady},
		initializedCondition(pod, s),
	}
	containersReady := containersReadyCondition(pod, s)
	ready := containersReady
	ready.Type = corev1.PodReady
	if ready.Status == corev1.ConditionTrue {
		ready = readinessGates(pod, ready)
	}
	conds = append(conds, ready, containersReady)

	scheduled := false
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			conds = append(conds, c)
			scheduled = true
		}
	}
	if !scheduled {
		conds = append(conds, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue})
	}
	for _, c := range pod.Status.Conditions {
		if !kubeletConditions[c.Type] && c.Type != corev1.PodScheduled {
			conds = append(conds, c)
		}
	}
	for i := range conds {
		c := &conds[i]
		if !kubeletConditions[c.Type] && (c.Type != corev1.PodScheduled || scheduled) {
			continue
		}
		c.LastTransitionTime = in.now
		for _, o := range pod.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
				c.LastProbeTime = o.LastProbeTime
			}
		}
	}
	return conds
}

// initializedCondition is True once every init container completed (and
// every sidecar started).
func initializedCondition(pod *corev1.Pod, s *corev1.PodStatus) corev1.PodCondition {
	if s.Phase == corev1.PodSucceeded {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, Reason: reasonPodCompleted}
	}
	var incomplete []string
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		cs := findStatus(s.InitContainerStatuses, ic.Name)
		done := false
		switch {
		case cs == nil:
		case isSidecar(ic):
			done = cs.Started != nil && *cs.Started || anyStarted(s.ContainerStatuses)
		case cs.State.Terminated != nil:
			done = cs.State.Terminated.ExitCode == 0
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			done = cs.LastTerminationState.Terminated.ExitCode == 0
		}
		if !done {
			incomplete = append(incomplete, ic.Name)
		}
	}
	if len(incomplete) == 0 {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse,
		Reason:  reasonContainersNotInitialized,
		Message: fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))}
}

// containersReadyCondition is True when every app container (and every
// sidecar) is ready.
func containersReadyCondition(pod *corev1.Pod, s *corev1.PodStatus) corev1.PodCondition {
	switch s.Phase {
	case corev1.PodSucceeded:
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: reasonPodCompleted}
	case corev1.PodFailed:
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: reasonPodFailed}
	}
	var unknown, unready []string
	check := func(name string, list []corev1.ContainerStatus) {
		cs := findStatus(list, name)
		switch {
		case cs == nil:
			unknown = append(unknown, name)
		case !cs.Ready:
			unready = append(unready, name)
		}
	}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			check(pod.Spec.InitContainers[i].Name, s.InitContainerStatuses)
		}
	}
	for i := range pod.Spec.Containers {
		check(pod.Spec.Containers[i].Name, s.ContainerStatuses)
	}
	if len(unknown) == 0 && len(unready) == 0 {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: [%s]", strings.Join(unknown, " ")))
	}
	if len(unready) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	}
	return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse,
		Reason: reasonContainersNotReady, Message: strings.Join(msgs, ", ")}
}

// readinessGates turns a ready pod unready while a readiness gate's
// condition is missing or not True.
func readinessGates(pod *corev1.Pod, ready corev1.PodCondition) corev1.PodCondition {
	var msgs []string
	for _, g := range pod.Spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range pod.Status.Conditions {
			if pod.Status.Conditions[i].Type == g.ConditionType {
				found = &pod.Status.Conditions[i]
			}
		}
		switch {
		case found == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
		case found.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, found.Status))
		}
	}
	if len(msgs) == 0 {
		return ready
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse,
		Reason: reasonReadinessGatesNotReady, Message: strings.Join(msgs, ", ")}
}
