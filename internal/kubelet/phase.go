package kubelet

import corev1 "k8s.io/api/core/v1"

// podPhase follows upstream's getPhase: init containers first, then the
// app containers' states decide.
func podPhase(pod *corev1.Pod, s *corev1.PodStatus, terminal bool) corev1.PodPhase {
	pendingInit, failedInit := 0, 0
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		cs := findStatus(s.InitContainerStatuses, ic.Name)
		if isSidecar(ic) {
			if cs == nil || cs.State.Running == nil || cs.Started == nil || !*cs.Started {
				if !terminal && !anyStarted(s.ContainerStatuses) {
					pendingInit++
				}
			}
			continue
		}
		switch {
		case cs == nil:
			pendingInit++
		case cs.State.Running != nil:
			pendingInit++
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
		case cs.State.Terminated != nil:
			failedInit++
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			if cs.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for i := range pod.Spec.Containers {
		cs := findStatus(s.ContainerStatuses, pod.Spec.Containers[i].Name)
		switch {
		case cs == nil:
			unknown++
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			stopped++
		case cs.State.Waiting != nil:
			waiting++
		default:
			unknown++
		}
	}
	if failedInit > 0 && (pod.Spec.RestartPolicy == corev1.RestartPolicyNever || terminal) {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0 && !terminal, waiting > 0 && !terminal:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if terminal {
			if stopped == succeeded && waiting == 0 {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		switch {
		case pod.Spec.RestartPolicy == corev1.RestartPolicyAlways:
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
		return corev1.PodRunning
	case terminal:
		return corev1.PodFailed
	}
	return corev1.PodPending
}

func anyStarted(list []corev1.ContainerStatus) bool {
	for _, cs := range list {
		if cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}

func isTerminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// isSidecar says an init container is a sidecar (restartPolicy Always).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}
