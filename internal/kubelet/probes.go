package kubelet

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// ProbeManager runs the liveness, readiness and startup probes of the
// pods on this node. internal/kubelet/prober implements it; NoProbes is the
// default that treats every container as having no probes.
//
// The contract, in the order the kubelet uses it:
//
//  1. Run calls Start once, in its own goroutine, and keeps it running
//     until ctx ends. host is how the prober reports back (see ProbeHost).
//  2. AddPod is called on every sync of a pod that is not terminating
//     (so it must be idempotent and cheap) with the latest pod seen from
//     the API. Neither side modifies it, so keeping the pointer is fine.
//  3. UpdatePodStatus is called every time the kubelet computes a pod's
//     status, before posting it. status.ContainerStatuses and
//     status.InitContainerStatuses already carry State, ContainerID
//     ("containerd://<id>"; the CRI id is the part after "://"), and the pod
//     IPs are in status.PodIP/PodIPs. Started and Ready of running
//     containers arrive false (those of other containers are final); for
//     each running container the prober sets Started (startup probe
//     succeeded, or true when there is none) and Ready (Started and the
//     readiness probe's last result is success; true when there is no
//     readiness probe). It must not touch anything else. This is also how
//     the prober learns which container ID to probe and when it started
//     (State.Running.StartedAt, for initialDelaySeconds); results for an
//     older container ID of the same name are dropped.
//  4. RemovePod is called when the pod stops (terminating, finished or
//     gone), possibly more than once; all its workers stop. A later AddPod
//     for the same UID does not happen.
//
// All methods are called from many goroutines and must not block on
// probing.
type ProbeManager interface {
	Start(ctx context.Context, host ProbeHost) error
	AddPod(pod *corev1.Pod)
	RemovePod(uid types.UID)
	UpdatePodStatus(pod *corev1.Pod, status *corev1.PodStatus)
}

// ProbeHost is the kubelet side of ProbeManager: results flow back through
// it. Its methods never block (they queue work for the pod's worker).
type ProbeHost interface {
	// ProbeResultChanged says a readiness or startup result of one of the
	// pod's containers changed; the kubelet recomputes the pod's status
	// (calling UpdatePodStatus) and posts it if it changed.
	ProbeResultChanged(podUID types.UID)
	// ContainerUnhealthy says a running container's liveness or startup
	// probe failed failureThreshold times in a row. The kubelet kills the
	// container (event Normal Killing "Container <name> failed <probe>
	// probe, will be restarted", grace period from the probe's
	// terminationGracePeriodSeconds or the pod's) and restarts it according
	// to the pod's restartPolicy. Reports for a container ID that is no
	// longer running are ignored.
	ContainerUnhealthy(f ProbeFailure)
	// Recorder records events for pods; the prober posts Warning
	// "Unhealthy" events ("Liveness probe failed: <output>") itself with it.
	Recorder() record.EventRecorder
}

// ProbeType names the kind of probe.
type ProbeType string

// The probe kinds, spelled as in event messages.
const (
	LivenessProbe  ProbeType = "Liveness"
	ReadinessProbe ProbeType = "Readiness"
	StartupProbe   ProbeType = "Startup"
)

// ProbeFailure identifies a container whose liveness or startup probe
// reached its failure threshold.
type ProbeFailure struct {
	PodUID types.UID
	// Container is the container's name in the pod spec.
	Container string
	// ContainerID as in the container status ("containerd://<id>").
	ContainerID string
	// Probe is LivenessProbe or StartupProbe.
	Probe ProbeType
	// Message is the last probe's output, for logs.
	Message string
}

// NoProbes is a ProbeManager for nodes that run no probes (hollow nodes,
// tests): every running container is started and ready, as if it had no
// probes.
type NoProbes struct{}

var _ ProbeManager = NoProbes{}

// Start blocks until ctx ends.
func (NoProbes) Start(ctx context.Context, _ ProbeHost) error {
	<-ctx.Done()
	return nil
}

// AddPod does nothing.
func (NoProbes) AddPod(*corev1.Pod) {}

// RemovePod does nothing.
func (NoProbes) RemovePod(types.UID) {}

// UpdatePodStatus marks every running container started and ready.
func (NoProbes) UpdatePodStatus(_ *corev1.Pod, status *corev1.PodStatus) {
	for _, list := range [][]corev1.ContainerStatus{status.InitContainerStatuses, status.ContainerStatuses} {
		for i := range list {
			if list[i].State.Running != nil {
				started := true
				list[i].Started = &started
				list[i].Ready = true
			}
		}
	}
}
