// Package kubetypes holds the labels a kubelet puts on the sandboxes and
// containers it creates, spelled as upstream's (pkg/kubelet/types), so a
// restarted kubelet, crictl or upstream tooling finds which pod and
// container each runtime object belongs to. The kubelet writes them, its
// server reads them to find a container's logs, and the fake runtime
// indexes its objects by the pod UID label.
package kubetypes

const (
	PodNameLabel       = "io.kubernetes.pod.name"
	PodNamespaceLabel  = "io.kubernetes.pod.namespace"
	PodUIDLabel        = "io.kubernetes.pod.uid"
	ContainerNameLabel = "io.kubernetes.container.name"
)
