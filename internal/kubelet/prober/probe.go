package prober

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// maxOutput bounds the probe output kept for events (HTTP body, exec
// stdout), as upstream reads at most 10 KiB.
const maxOutput = 10 * 1024

// runProbe runs one probe attempt. A non-nil error means the probe could
// not be run at all (misconfigured, no pod IP, exec unavailable): it is
// reported but does not count toward a threshold.
func (m *Manager) runProbe(ctx context.Context, kind probeKind, p *corev1.Probe, pod *corev1.Pod,
	containerName, containerID, podIP string) (result, string, error) {
	timeout := m.seconds(p.TimeoutSeconds, 1)
	c := findContainer(pod, containerName)
	if c == nil {
		return unknown, "", fmt.Errorf("container %q not in pod spec", containerName)
	}
	switch {
	case p.Exec != nil:
		return m.probeExec(ctx, containerID, p.Exec.Command, timeout)
	case p.HTTPGet != nil:
		return m.probeHTTP(ctx, p.HTTPGet, c, podIP, timeout)
	case p.TCPSocket != nil:
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return unknown, "", err
		}
		if host == "" {
			return unknown, "", errors.New("pod has no IP to probe")
		}
		return probeTCP(ctx, host, port, timeout)
	case p.GRPC != nil:
		if podIP == "" {
			return unknown, "", errors.New("pod has no IP to probe")
		}
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return probeGRPC(ctx, podIP, int(p.GRPC.Port), service, timeout)
	}
	return unknown, "", fmt.Errorf("%s probe has no handler", kind)
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// resolvePort is a port number, or the containerPort of the named port.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	port := p.IntValue()
	if p.Type == intstr.String {
		port = -1
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				port = int(cp.ContainerPort)
				break
			}
		}
		if port == -1 {
			return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, c.Name)
		}
	}
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("invalid port number: %v", port)
	}
	return port, nil
}

// probeExec succeeds when the command exits 0; a command that outlives
// the timeout fails (as upstream since exec probe timeouts are enforced).
func (m *Manager) probeExec(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (result, string, error) {
	if m.opts.Exec == nil {
		return unknown, "", errors.New("exec probes are not available: no exec function")
	}
	// The runtime enforces timeout; the context is a backstop if it does not.
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	// Container statuses name containers "containerd://<id>"; the runtime
	// wants the bare id.
	if _, bare, ok := strings.Cut(containerID, "://"); ok {
		containerID = bare
	}
	out, code, err := m.opts.Exec(ctx, containerID, cmd, timeout)
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
			return failure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
		}
		return unknown, "", err
	}
	if code != 0 {
		return failure, string(out), nil
	}
	return success, string(out), nil
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}
