package kubelet

import (
	"encoding/json"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

// Labels and annotations the kubelet puts on sandboxes and containers,
// spelled as upstream's, so a restarted kubelet (or crictl, or upstream
// tooling) finds which pod and container each runtime object belongs to.
const (
	// labelKubeletType marks sandboxes as upstream does ("podsandbox").
	labelKubeletType = "io.kubernetes.container.type"

	annotationHash              = "io.kubernetes.container.hash"
	annotationRestartCount      = "io.kubernetes.container.restartCount"
	annotationTerminationPath   = "io.kubernetes.container.terminationMessagePath"
	annotationTerminationPolicy = "io.kubernetes.container.terminationMessagePolicy"
	annotationPodGracePeriod    = "io.kubernetes.pod.terminationGracePeriod"
	annotationContainerKind     = "io.kubernetes.container.kind" // "init" or "sidecar" for init containers
	annotationPreStopHandler    = "io.kubernetes.container.preStopHandler"
	annotationContainerPorts    = "io.kubernetes.container.ports"
	containerKindInit           = "init"
	containerKindSidecar        = "sidecar"
)

// sandboxLabels are the pod's labels plus the kubelet's own.
func sandboxLabels(pod *corev1.Pod) map[string]string {
	out := make(map[string]string, len(pod.Labels)+4)
	for k, v := range pod.Labels {
		out[k] = v
	}
	out[kubetypes.PodNameLabel] = pod.Name
	out[kubetypes.PodNamespaceLabel] = pod.Namespace
	out[kubetypes.PodUIDLabel] = string(pod.UID)
	out[labelKubeletType] = "podsandbox"
	return out
}

func containerLabels(pod *corev1.Pod, c *corev1.Container) map[string]string {
	return map[string]string{
		kubetypes.PodNameLabel:       pod.Name,
		kubetypes.PodNamespaceLabel:  pod.Namespace,
		kubetypes.PodUIDLabel:        string(pod.UID),
		kubetypes.ContainerNameLabel: c.Name,
	}
}

// containerAnnotations record what the kubelet must know about a running
// container after a restart: its spec hash, restart count, termination
// message settings, and what kind of container it is.
func containerAnnotations(pod *corev1.Pod, c *corev1.Container, restartCount int, kind string) map[string]string {
	out := map[string]string{
		annotationHash:              containerHash(c),
		annotationRestartCount:      strconv.Itoa(restartCount),
		annotationTerminationPath:   c.TerminationMessagePath,
		annotationTerminationPolicy: string(c.TerminationMessagePolicy),
	}
	if kind != "" {
		out[annotationContainerKind] = kind
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		out[annotationPodGracePeriod] = strconv.FormatInt(*g, 10)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if b, err := json.Marshal(c.Lifecycle.PreStop); err == nil {
			out[annotationPreStopHandler] = string(b)
		}
	}
	if len(c.Ports) > 0 {
		if b, err := json.Marshal(c.Ports); err == nil {
			out[annotationContainerPorts] = string(b)
		}
	}
	return out
}

// containerHash fingerprints the parts of a container's spec that can
// change on a live pod (the image); a running container whose hash
// differs from the spec's is restarted.
func containerHash(c *corev1.Container) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(c.Name))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(c.Image))
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// restartCountOf reads the restart count annotation (0 when absent).
func restartCountOf(annotations map[string]string) int {
	n, err := strconv.Atoi(annotations[annotationRestartCount])
	if err != nil || n < 0 {
		return 0
	}
	return n
}
