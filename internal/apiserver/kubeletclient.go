package apiserver

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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/storage"
)

// defaultKubeletPort is where a kubelet serves when its node does not say.
const defaultKubeletPort = 10250

// kubeletClient reaches kubelets with the API server's kubelet client
// certificate, verifying their serving certificates against the cluster
// CA (both in Config.KubeletClientTLS).
type kubeletClient struct {
	tls *tls.Config // nil: no kubelet connections configured
	// transport verifies kubelets; insecure does not (a log request's
	// insecureSkipTLSVerifyBackend).
	transport, insecure *http.Transport
}

func newKubeletClient(cfg *tls.Config) *kubeletClient {
	if cfg == nil {
		return &kubeletClient{}
	}
	c := &kubeletClient{tls: kubeletTLS(cfg, false)}
	c.transport = kubeletTransport(c.tls)
	c.insecure = kubeletTransport(kubeletTLS(cfg, true))
	return c
}

// kubeletTLS is cfg for HTTP/1.1 (streams are HTTP/1.1 upgrades).
func kubeletTLS(cfg *tls.Config, insecure bool) *tls.Config {
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	if insecure {
		c.InsecureSkipVerify = true
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

func kubeletTransport(cfg *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
}

// kubeletURL is the base URL of a node's kubelet: its first InternalIP,
// else Hostname, else ExternalIP, at status.daemonEndpoints' port.
func (s *Server) kubeletURL(ctx context.Context, nodeName string) (*url.URL, error) {
	if s.kubelet.tls == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no kubelet client credentials configured: cannot reach node %q", nodeName))
	}
	ep := s.endpoints[corev1.SchemeGroupVersion.WithResource("nodes")]
	if ep == nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("nodes are not served"))
	}
	node := &corev1.Node{}
	if err := ep.store.Get(ctx, ep.key("", nodeName), storage.GetOptions{}, node); err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), nodeName)
	}
	host := nodeAddress(node)
	if host == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("node %q has no address to reach its kubelet at", nodeName))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 || port > 65535 {
		port = defaultKubeletPort
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

func nodeAddress(node *corev1.Node) string {
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName, corev1.NodeExternalIP} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address
			}
		}
	}
	return ""
}

// kubeletResponseError turns a kubelet's non-2xx answer (plain text)
// into the Status the client gets, keeping the kubelet's code and words.
func kubeletResponseError(resp *http.Response, gr schema.GroupResource, name string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = fmt.Sprintf("the kubelet answered %s", resp.Status)
	}
	code := resp.StatusCode
	var reason metav1.StatusReason
	switch code {
	case http.StatusBadRequest:
		reason = metav1.StatusReasonBadRequest
	case http.StatusUnauthorized, http.StatusForbidden:
		// The kubelet refused the API server itself: a misconfiguration
		// the user cannot fix by retrying with other credentials.
		reason, code = metav1.StatusReasonForbidden, http.StatusForbidden
	case http.StatusNotFound:
		reason = metav1.StatusReasonNotFound
	case http.StatusServiceUnavailable:
		reason = metav1.StatusReasonServiceUnavailable
	default:
		reason, code = metav1.StatusReasonInternalError, http.StatusInternalServerError
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: int32(code), Reason: reason,
		Message: msg, Details: &metav1.StatusDetails{Group: gr.Group, Kind: gr.Resource, Name: name}}}
}

// kubeletDialError reports a kubelet that could not be reached.
func kubeletDialError(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
		Reason: metav1.StatusReasonInternalError, Message: err.Error()}}
}
