package kubelet

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Container waiting reasons, as upstream reports them.
const (
	reasonContainerCreating     = "ContainerCreating"
	reasonPodInitializing       = "PodInitializing"
	reasonCrashLoopBackOff      = "CrashLoopBackOff"
	reasonErrImagePull          = "ErrImagePull"
	reasonImagePullBackOff      = "ImagePullBackOff"
	reasonErrImageNeverPull     = "ErrImageNeverPull"
	reasonInvalidImageName      = "InvalidImageName"
	reasonImageInspectError     = "ImageInspectError"
	reasonCreateContainerConfig = "CreateContainerConfigError"
	reasonCreateContainer       = "CreateContainerError"
	reasonRunContainer          = "RunContainerError"
	reasonPostStartHook         = "PostStartHookError"
	reasonStatusUnknown         = "ContainerStatusUnknown"
)

// statusInput is everything a pod's status is computed from.
type statusInput struct {
	pod *corev1.Pod
	pr  *podRuntime
	// waiting per container name: why its last start failed.
	waiting map[string]*corev1.ContainerStateWaiting
	// terminal: the pod will run nothing more (deleted, deadline, done),
	// so a pod whose containers all stopped is Succeeded or Failed
	// whatever its restartPolicy.
	terminal bool
	// startTime when the pod has none yet.
	startTime metav1.Time
	now       metav1.Time
}

// generatePodStatus computes a pod's status as upstream's kubelet does:
// container statuses from the runtime, then phase, then conditions. It
// keeps what the kubelet does not own (PodScheduled, other conditions,
// nominatedNodeName) from the pod's current status.
func (k *Kubelet) generatePodStatus(in statusInput) corev1.PodStatus {
	pod, old := in.pod, &in.pod.Status
	s := corev1.PodStatus{
		QOSClass:          old.QOSClass,
		NominatedNodeName: old.NominatedNodeName,
		Reason:            old.Reason,
		Message:           old.Message,
		HostIP:            k.nodeIP,
		HostIPs:           []corev1.HostIP{{IP: k.nodeIP}},
		StartTime:         old.StartTime,
	}
	if s.QOSClass == "" {
		s.QOSClass = qosClass(&pod.Spec)
	}
	if s.StartTime == nil {
		st := in.startTime
		s.StartTime = &st
	}
	s.PodIPs = k.podIPs(pod, in.pr)
	if len(s.PodIPs) > 0 {
		s.PodIP = s.PodIPs[0].IP
	}

	hasInit := len(pod.Spec.InitContainers) > 0
	s.InitContainerStatuses = k.containerStatuses(pod, pod.Spec.InitContainers, old.InitContainerStatuses, in, hasInit)
	s.ContainerStatuses = k.containerStatuses(pod, pod.Spec.Containers, old.ContainerStatuses, in, hasInit)
	k.probes.UpdatePodStatus(pod, &s)
	for i := range s.InitContainerStatuses {
		cs := &s.InitContainerStatuses[i]
		if t := cs.State.Terminated; t != nil && t.ExitCode == 0 && !isSidecar(&pod.Spec.InitContainers[i]) {
			cs.Ready = true // a completed init container counts as ready, as upstream reports it
		}
	}

	s.Phase = podPhase(pod, &s, in.terminal)
	if isTerminalPhase(old.Phase) {
		s.Phase = old.Phase // a finished pod never runs again
	}
	s.Conditions = k.podConditions(pod, &s, in)
	return s
}

// podIPs are the sandbox's IPs, the node's for host-network pods, or the
// last reported ones once the sandbox is gone.
func (k *Kubelet) podIPs(pod *corev1.Pod, pr *podRuntime) []corev1.PodIP {
	var ips []string
	switch {
	case pod.Spec.HostNetwork:
		ips = []string{k.nodeIP}
	case pr.readySandbox() != nil:
		ips = sandboxIPs(pr.readySandbox())
	default:
		return pod.Status.PodIPs
	}
	out := make([]corev1.PodIP, len(ips))
	for i, ip := range ips {
		out[i] = corev1.PodIP{IP: ip}
	}
	return out
}

// containerStatuses builds one status per container of specs, in spec
// order.
func (k *Kubelet) containerStatuses(pod *corev1.Pod, specs []corev1.Container, old []corev1.ContainerStatus,
	in statusInput, hasInit bool) []corev1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(specs))
	for i := range specs {
		out = append(out, k.containerStatus(pod, &specs[i], findStatus(old, specs[i].Name), in, hasInit))
	}
	return out
}

func (k *Kubelet) containerStatus(pod *corev1.Pod, c *corev1.Container, old *corev1.ContainerStatus,
	in statusInput, hasInit bool) corev1.ContainerStatus {
	started := false
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: &started}
	defaultWaiting := reasonContainerCreating
	if hasInit {
		defaultWaiting = reasonPodInitializing
	}
	latest := in.pr.latest(c.Name)
	switch {
	case latest != nil:
		cs.ContainerID = k.containerIDPrefix() + latest.Id
		cs.ImageID = latest.ImageRef
		if img := latest.GetImage().GetImage(); img != "" && !isImageID(img) {
			cs.Image = img
		}
		cs.RestartCount = int32(restartCountOf(latest.Annotations))
		cs.VolumeMounts = volumeMountStatuses(c)
		cs.State = k.containerState(latest, defaultWaiting)
		if prev := in.pr.previous(c.Name); prev != nil && prev.exited() {
			cs.LastTerminationState = k.containerState(prev, defaultWaiting)
		}
	case old != nil && (old.State.Terminated != nil || old.State.Running != nil || old.LastTerminationState.Terminated != nil):
		// The runtime lost the container (GC, or a wiped runtime): keep
		// what was reported; a container that was running ended unseen.
		cs.ContainerID, cs.ImageID, cs.Image, cs.RestartCount = old.ContainerID, old.ImageID, old.Image, old.RestartCount
		cs.State, cs.LastTerminationState = old.State, old.LastTerminationState
		if old.State.Running != nil {
			cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: reasonStatusUnknown,
				Message: "The container could not be located when the pod was terminated",
			}}
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: defaultWaiting}}
			if in.terminal {
				cs.State, cs.LastTerminationState = cs.LastTerminationState, corev1.ContainerState{}
			}
		}
	default:
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: defaultWaiting}}
	}
	// A failed start shows as the waiting state until a container runs;
	// the exit it follows moves to lastState.
	if w := in.waiting[c.Name]; w != nil && !in.terminal && (latest == nil || !latest.running()) {
		if cs.State.Terminated != nil {
			cs.LastTerminationState = cs.State
		}
		cs.State = corev1.ContainerState{Waiting: w.DeepCopy()}
	}
	return cs
}

// volumeMountStatuses reports the container's mounts as a v1.32 kubelet
// does; recursive read-only mounts are not supported, so read-only ones
// say Disabled.
func volumeMountStatuses(c *corev1.Container) []corev1.VolumeMountStatus {
	if len(c.VolumeMounts) == 0 {
		return nil
	}
	out := make([]corev1.VolumeMountStatus, len(c.VolumeMounts))
	for i, m := range c.VolumeMounts {
		out[i] = corev1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly}
		if m.ReadOnly {
			disabled := corev1.RecursiveReadOnlyDisabled
			out[i].RecursiveReadOnly = &disabled
		}
	}
	return out
}

// containerState converts a runtime container's state.
func (k *Kubelet) containerState(c *runtimeContainer, defaultWaiting string) corev1.ContainerState {
	switch c.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: nanoTime(c.StartedAt)}}
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		reason := c.Reason
		if reason == "" {
			reason = "Error"
			if c.ExitCode == 0 {
				reason = "Completed"
			}
		}
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: c.ExitCode, Reason: reason, Message: k.terminationMessage(c),
			StartedAt: nanoTime(c.StartedAt), FinishedAt: nanoTime(c.FinishedAt),
			ContainerID: k.containerIDPrefix() + c.Id,
		}}
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}}
	}
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: defaultWaiting}}
}

// nanoTime is a runtime timestamp as the API shows it (whole seconds).
func nanoTime(ns int64) metav1.Time {
	if ns == 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(0, ns)).Rfc3339Copy()
}

func isImageID(s string) bool { return len(s) > 7 && s[:7] == "sha256:" }

func findStatus(list []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}
