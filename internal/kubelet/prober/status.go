package prober

import (
	corev1 "k8s.io/api/core/v1"
)

// The status-driven API: a kubelet that keeps container state in the pod
// status it computes can call AddPod on every sync and UpdatePodStatus
// whenever it builds a status, instead of UpdatePod. Both only take the
// manager's lock briefly; neither waits for a probe.

// AddPod starts (or keeps) the workers for pod's probes, keeping the
// container instances last reported. Idempotent.
func (m *Manager) AddPod(pod *corev1.Pod) {
	if pod == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var containers map[string]ContainerInfo
	podIP := ""
	if pp := m.pods[pod.UID]; pp != nil {
		containers, podIP = pp.containers, pp.podIP
	}
	m.updatePodLocked(pod, containers, podIP)
}

// UpdatePodStatus learns the container instances (ContainerID, running
// state and StartedAt) and pod IP from status, then sets Started and
// Ready of every running container in it; it changes nothing else. Probed
// containers (app containers and sidecars) get their probe results;
// running plain init containers are started but not ready. For a pod that
// AddPod or UpdatePod has not registered (or RemovePod dropped) no workers
// start, and a container counts as started and ready only if it has no
// startup or readiness probe respectively.
func (m *Manager) UpdatePodStatus(pod *corev1.Pod, status *corev1.PodStatus) {
	if pod == nil || status == nil {
		return
	}
	containers := map[string]ContainerInfo{}
	for _, list := range [][]corev1.ContainerStatus{status.InitContainerStatuses, status.ContainerStatuses} {
		for _, cs := range list {
			info := ContainerInfo{ID: cs.ContainerID}
			if r := cs.State.Running; r != nil {
				info.Running, info.StartedAt = true, r.StartedAt.Time
			}
			containers[cs.Name] = info
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	pp := m.pods[pod.UID]
	if pp != nil {
		m.updatePodLocked(pod, containers, status.PodIP)
		pp = m.pods[pod.UID] // a finished pod was just removed
	}
	probed := map[string]*corev1.Container{}
	for _, pc := range probedContainers(pod) {
		probed[pc.container.Name] = pc.container
	}
	set := func(list []corev1.ContainerStatus) {
		for i := range list {
			cs := &list[i]
			if cs.State.Running == nil {
				continue
			}
			c, isProbed := probed[cs.Name]
			var started, ready bool
			switch {
			case !isProbed: // a plain init container
				started = true
			case pp != nil:
				started, ready = pp.startedLocked(cs.Name), pp.readyLocked(cs.Name)
			default:
				started = c.StartupProbe == nil
				ready = started && c.ReadinessProbe == nil
			}
			cs.Started, cs.Ready = &started, ready
		}
	}
	set(status.InitContainerStatuses)
	set(status.ContainerStatuses)
}
