package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// newHTTPClient is shared by all HTTP probes: no proxy, no keep-alive (a
// probe is one request; idle connections would pile up in pods), and no
// certificate checks, as upstream's prober.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, like upstream
		},
		CheckRedirect: sameHostRedirects,
	}
}

// sameHostRedirects follows redirects to the same host only; an off-host
// redirect ends the probe with that redirect response (a warning).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// probeHTTP: 200-399 is success (3xx left unfollowed is a warning), any
// other status or a transport error a failure.
func (m *Manager) probeHTTP(ctx context.Context, a *corev1.HTTPGetAction, c *corev1.Container, podIP string,
	timeout time.Duration) (result, string, error) {
	port, err := resolvePort(a.Port, c)
	if err != nil {
		return unknown, "", err
	}
	host := a.Host
	if host == "" {
		host = podIP
	}
	if host == "" {
		return unknown, "", errors.New("pod has no IP to probe")
	}
	u, err := url.Parse(a.Path)
	if err != nil {
		u = &url.URL{Path: a.Path}
	}
	u.Scheme = strings.ToLower(string(a.Scheme))
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	u.Host = hostPort(host, port)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return unknown, "", err
	}
	for _, h := range a.HTTPHeaders {
		if http.CanonicalHeaderKey(h.Name) == "Host" {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	if _, set := req.Header["User-Agent"]; !set {
		req.Header.Set("User-Agent", UserAgent)
	}
	if _, set := req.Header["Accept"]; !set {
		req.Header.Set("Accept", "*/*")
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return failure, err.Error(), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	switch {
	case resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusMultipleChoices:
		return success, string(body), nil
	case resp.StatusCode >= http.StatusMultipleChoices && resp.StatusCode < http.StatusBadRequest:
		return warning, fmt.Sprintf("Probe terminated redirects, Response body: %s", body), nil
	}
	return failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode), nil
}
