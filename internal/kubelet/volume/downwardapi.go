package volume

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func (m *Manager) downwardAPIPayload(ctx context.Context, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile,
	defaultMode *int32) (map[string]fileProjection, error) {
	payload := map[string]fileProjection{}
	return payload, m.addDownwardAPI(ctx, payload, pod, items, fileMode(defaultMode))
}

// addDownwardAPI adds one file per item: a pod field or a container
// resource, rendered as upstream renders it.
func (m *Manager) addDownwardAPI(ctx context.Context, payload map[string]fileProjection, pod *corev1.Pod,
	items []corev1.DownwardAPIVolumeFile, mode os.FileMode) error {
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil:
			value, err = PodFieldValue(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			value, err = m.containerResourceValue(ctx, pod, it.ResourceFieldRef)
		default:
			err = fmt.Errorf("downwardAPI item %q has neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return err
		}
		itemMode := mode
		if it.Mode != nil {
			itemMode = fileMode(it.Mode)
		}
		if err := addFile(payload, it.Path, []byte(value), itemMode); err != nil {
			return err
		}
	}
	return nil
}

// PodFieldValue renders a downward API fieldPath of pod: metadata.name,
// metadata.namespace, metadata.uid, metadata.labels and
// metadata.annotations (sorted key="value" lines), metadata.labels['k'],
// metadata.annotations['k'], and the fields upstream allows in environment
// variables (spec.nodeName, spec.serviceAccountName, status.hostIP,
// status.podIP, and their plural forms).
func PodFieldValue(pod *corev1.Pod, fieldPath string) (string, error) {
	if key, ok := subscript(fieldPath, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(fieldPath, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		return joinIPs(pod.Status.HostIPs), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		ips := make([]string, len(pod.Status.PodIPs))
		for i, ip := range pod.Status.PodIPs {
			ips[i] = ip.IP
		}
		return strings.Join(ips, ","), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", fieldPath)
}

func joinIPs(ips []corev1.HostIP) string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.IP
	}
	return strings.Join(out, ",")
}

// subscript parses prefix['key'].
func subscript(fieldPath, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(fieldPath, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// formatMap renders labels or annotations one key="value" per line, keys
// sorted, values Go-quoted, no trailing newline.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(lines, "\n")
}

// containerResourceValue renders limits.* or requests.* of a container in
// units of the divisor, rounded up. A limit the container does not set is
// the node's allocatable, as upstream.
func (m *Manager) containerResourceValue(ctx context.Context, pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == ref.ContainerName {
			c = &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if c == nil && pod.Spec.InitContainers[i].Name == ref.ContainerName {
			c = &pod.Spec.InitContainers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: container %q not found in pod", ref.ContainerName)
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource: %s", ref.Resource)
	}
	res := corev1.ResourceName(name)
	var q resource.Quantity
	if kind == "limits" {
		var set bool
		q, set = c.Resources.Limits[res]
		if !set || q.IsZero() {
			q = m.nodeAllocatable(ctx)[res]
		}
	} else {
		q = c.Resources.Requests[res]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if res == corev1.ResourceCPU {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	if res == corev1.ResourceMemory || res == corev1.ResourceEphemeralStorage || strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
	}
	return "", fmt.Errorf("unsupported container resource: %s", ref.Resource)
}
