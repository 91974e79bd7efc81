package printers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// nodeLostReason is the pod status reason the node lifecycle controller sets
// when a pod's node stops answering.
const nodeLostReason = "NodeLost"

// PodColumns are `kubectl get pods` columns.
var PodColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Ready", "string", "Ready containers out of all containers (sidecars included)."),
	column("Status", "string", "The pod's summarized status, as kubectl shows it."),
	column("Restarts", "string", "Container restarts, and how long ago the latest one was."),
	ageColumn(),
	wide(column("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"])),
	wide(column("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"])),
	wide(column("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"])),
	wide(column("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"])),
}

// PodRow gives the PodColumns cells of a *corev1.Pod.
func PodRow(obj runtime.Object, now time.Time) []interface{} {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return mismatchRow(obj, PodColumns)
	}
	s := summarizePod(pod)
	return []interface{}{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.status,
		s.restarts.text(now),
		age(pod.CreationTimestamp, now),
		orNone(podIP(pod)),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		readinessGates(pod),
	}
}

// podSummary is what READY, STATUS and RESTARTS print.
type podSummary struct {
	ready, total int
	status       string
	restarts     restartTally
}

// restartTally sums restart counts and remembers when the most recent
// previous container instance finished.
type restartTally struct {
	count int
	last  time.Time
}

func (t *restartTally) add(cs *corev1.ContainerStatus) {
	t.count += int(cs.RestartCount)
	if term := cs.LastTerminationState.Terminated; term != nil && term.FinishedAt.Time.After(t.last) {
		t.last = term.FinishedAt.Time
	}
}

// text is "n", or "n (5m ago)" once a restarted container has a known
// last termination.
func (t restartTally) text(now time.Time) string {
	if t.count == 0 || t.last.IsZero() {
		return fmt.Sprint(t.count)
	}
	return fmt.Sprintf("%d (%s ago)", t.count, duration.HumanDuration(now.Sub(t.last)))
}

// summarizePod derives the READY, STATUS and RESTARTS of a pod. STATUS
// starts from status.reason (else the phase); the first init container
// still holding the pod back overrides it; once initialization is over,
// the last regular container with something to report does; deletion
// comes last.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), status: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		s.status = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.status = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars (init containers that keep running) count as containers.
	sidecars := make(map[string]bool)
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			sidecars[pod.Spec.InitContainers[i].Name] = true
			s.total++
		}
	}

	initializing, sidecarRestarts := s.walkInitContainers(pod, sidecars)
	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		// Past initialization only sidecar restarts still matter among
		// the init containers.
		s.restarts = sidecarRestarts
		s.walkContainers(pod)
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			s.status = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			s.status = "Terminating"
		}
	}
	return s
}

// walkInitContainers visits init container statuses in order up to the
// first one that is neither done nor a started sidecar, setting STATUS
// from it. Restarts are tallied for every visited container, and
// separately for sidecars.
func (s *podSummary) walkInitContainers(pod *corev1.Pod, sidecars map[string]bool) (initializing bool, sidecarRestarts restartTally) {
	for i := range pod.Status.InitContainerStatuses {
		cs := &pod.Status.InitContainerStatuses[i]
		s.restarts.add(cs)
		sidecar := sidecars[cs.Name]
		if sidecar {
			sidecarRestarts.add(cs)
		}
		term, waiting := cs.State.Terminated, cs.State.Waiting
		switch {
		case term != nil && term.ExitCode == 0:
			continue
		case sidecar && cs.Started != nil && *cs.Started:
			if cs.Ready {
				s.ready++
			}
			continue
		case term != nil:
			s.status = "Init:" + terminationText(term)
		case waiting != nil && waiting.Reason != "" && waiting.Reason != "PodInitializing":
			s.status = "Init:" + waiting.Reason
		default:
			s.status = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		return true, sidecarRestarts
	}
	return false, sidecarRestarts
}

// walkContainers visits regular container statuses from last to first, so
// that among the containers that are waiting or terminated the first one
// in the pod decides STATUS.
func (s *podSummary) walkContainers(pod *corev1.Pod) {
	running := false
	for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
		cs := &pod.Status.ContainerStatuses[i]
		s.restarts.add(cs)
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			s.status = cs.State.Waiting.Reason
		case cs.State.Terminated != nil:
			s.status = terminationText(cs.State.Terminated)
		case cs.Ready && cs.State.Running != nil:
			running = true
			s.ready++
		}
	}
	// A container that completed while others still run does not make
	// the pod Completed.
	if s.status == "Completed" && running {
		if podConditionTrue(pod, corev1.PodReady) {
			s.status = "Running"
		} else {
			s.status = "NotReady"
		}
	}
}

// terminationText names a terminated state: its reason, else the signal,
// else the exit code.
func terminationText(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

// isSidecar reports whether an init container is restartable: it starts
// during initialization and keeps running beside the regular containers.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podConditionTrue reports whether the first condition of type t is True.
func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIP is the pod's primary IP; status.podIP stands in for a status
// written without podIPs.
func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return pod.Status.PodIP
}

// readinessGates is "true/total" over spec.readinessGates, or "<none>".
func readinessGates(pod *corev1.Pod) string {
	gates := pod.Spec.ReadinessGates
	if len(gates) == 0 {
		return none
	}
	passed := 0
	for _, g := range gates {
		if podConditionTrue(pod, g.ConditionType) {
			passed++
		}
	}
	return fmt.Sprintf("%d/%d", passed, len(gates))
}
