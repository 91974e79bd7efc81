package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hookHTTPClient runs httpGet hooks: no redirects to other hosts matter
// here, TLS is not verified (as upstream's probes and hooks), no proxy.
var hookHTTPClient = &http.Client{
	Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // hooks target the pod itself
	},
}

// runHook runs a postStart or preStop handler against a running
// container and returns an error describing a failure. ctx bounds it
// (the grace period for preStop).
func (k *Kubelet) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, containerID string,
	h *corev1.LifecycleHandler, podIP string) error {
	switch {
	case h.Exec != nil:
		timeout := 30 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		stdout, stderr, err := k.runtime.ExecSync(ctx, containerID, h.Exec.Command, timeout)
		if err != nil {
			return fmt.Errorf("command '%s' exited with %v: %s%s", strings.Join(h.Exec.Command, " "), err, stdout, stderr)
		}
		return nil
	case h.HTTPGet != nil:
		return runHTTPHook(ctx, pod, c, h.HTTPGet, podIP)
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return nil
	case h.TCPSocket != nil:
		return fmt.Errorf("tcpSocket is not a valid lifecycle handler")
	}
	return fmt.Errorf("lifecycle handler has no action")
}

func runHTTPHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, g *corev1.HTTPGetAction, podIP string) error {
	host := g.Host
	if host == "" {
		host = podIP
	}
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return err
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	u, err = u.Parse(path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-lifecycle/"+strings.TrimPrefix(DefaultKubeletVersion, "v"))
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
		} else {
			req.Header.Add(h.Name, h.Value)
		}
	}
	resp, err := hookHTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("http hook to %s failed: %w", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: received status code %d, message: %q",
			path, c.Name, formatPod(pod), resp.StatusCode, resp.Status)
	}
	return nil
}

// resolvePort turns a port number or a named container port into a
// number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, c.Name)
}
