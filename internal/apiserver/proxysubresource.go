package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/storage"
)

// The proxy subresources of pods and services pass any request (every
// method, the query, upgrades) to an address on the pod network, as
// upstream's apiserver does:
//
//	/api/v1/namespaces/<ns>/pods/[<scheme>:]<name>[:<port>]/proxy[/<path>]
//	/api/v1/namespaces/<ns>/services/[<scheme>:]<name>[:<port>]/proxy[/<path>]
//
// A pod is reached at its IP and the given port (else its first
// container port); a service at one of its ready endpoints, chosen at
// random, on the endpoint port named like the service port. nodes/proxy
// goes to the kubelet instead (kubeletproxy.go).

// splitSchemeNamePort reads "name", "name:port" or "scheme:name:port";
// the scheme may be empty, http or https, and the name may not be empty.
func splitSchemeNamePort(id string) (scheme, name, port string, ok bool) {
	parts := strings.Split(id, ":")
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		name, port = parts[0], parts[1]
	case 3:
		scheme, name, port = parts[0], parts[1], parts[2]
	default:
		return "", "", "", false
	}
	if name == "" || (scheme != "" && scheme != "http" && scheme != "https") {
		return "", "", "", false
	}
	return scheme, name, port, true
}

// servePodNetworkProxy answers pods/proxy and services/proxy.
func (s *Server) servePodNetworkProxy(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns string, ri requestInfo) {
	scheme, name, port, ok := splitSchemeNamePort(ri.Name)
	var loc *url.URL
	var err error
	switch ep.res.Resource {
	case "pods":
		if !ok {
			err = apierrors.NewBadRequest(fmt.Sprintf("invalid pod request %q", ri.Name))
			break
		}
		pod := &corev1.Pod{}
		if err = ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, pod); err != nil {
			err = toAPIError(err, ep.res.GroupResource(), name)
			break
		}
		loc, err = podProxyLocation(pod, scheme, port)
	case "services":
		if !ok {
			err = apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", ri.Name))
			break
		}
		loc, err = s.serviceProxyLocation(ctx, ep, ns, ri.Name, scheme, name, port)
	default:
		err = errNoRoute()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	prefix, rest := splitProxyPath(r, ri)
	if rest == "" {
		// As upstream: a GET of .../proxy is sent to .../proxy/, so that
		// the backend's relative links resolve beneath the prefix.
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			target := r.URL.EscapedPath() + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", target)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		rest = "/"
	}
	target, perr := url.Parse(loc.String() + rest)
	if perr != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("bad proxy path %q", rest)))
		return
	}
	target.RawQuery = r.URL.RawQuery
	s.proxyToPodNetwork(w, r, target, prefix)
}

// splitProxyPath splits the request's path into the API prefix ending in
// /proxy (unescaped, as redirects are rewritten against it) and the rest,
// escaped as the client sent it ("" when nothing follows /proxy). It
// counts segments rather than searching for "/proxy", which a namespace
// or an object may be named after.
func splitProxyPath(r *http.Request, ri requestInfo) (prefix, rest string) {
	all := splitPath(r.URL.Path)
	n := len(all) - len(ri.Parts) + 3 // .../<resource>/<name>/proxy
	if n > len(all) || n < 3 {
		return r.URL.Path, ""
	}
	prefix = "/" + strings.Join(all[:n], "/")
	escaped := strings.SplitN(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/", n+1)
	if len(escaped) == n+1 {
		rest = "/" + escaped[n]
	}
	return prefix, rest
}

// podProxyLocation is where pods/proxy reaches pod: its first IP, at the
// port asked for or else its first declared container port (none: the
// scheme's default). A port may also name a container port. As
// upstream, only a global unicast IP is allowed: not loopback, link-local
// or unspecified, which would reach the API server's own host.
func podProxyLocation(pod *corev1.Pod, scheme, port string) (*url.URL, error) {
	if port == "" {
		port = firstContainerPort(pod)
	} else if _, err := strconv.Atoi(port); err != nil {
		if p := namedContainerPort(pod, port); p != "" {
			port = p
		}
	}
	ip := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}
	if !proxyAddressAllowed(ip) {
		return nil, apierrors.NewBadRequest("address not allowed")
	}
	if scheme == "" {
		scheme = "http"
	}
	host := ip
	if port != "" {
		host = net.JoinHostPort(ip, port)
	} else if strings.Contains(ip, ":") {
		host = "[" + ip + "]"
	}
	return &url.URL{Scheme: scheme, Host: host}, nil
}

func proxyAddressAllowed(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a.IsGlobalUnicast()
}

func firstContainerPort(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if len(c.Ports) > 0 {
			return strconv.Itoa(int(c.Ports[0].ContainerPort))
		}
	}
	return ""
}

func namedContainerPort(pod *corev1.Pod, name string) string {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return strconv.Itoa(int(p.ContainerPort))
			}
		}
	}
	return ""
}

// podNetworkTransport reaches pods: addressed by IP, so their serving
// certificates cannot be checked (as upstream's proxy transport), and
// with no client certificate.
var podNetworkTransport = sync.OnceValue(func() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}, //nolint:gosec // IP-addressed backends, as upstream
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
})

// proxyToPodNetwork sends the request to target and copies the answer
// back, upgrades spliced through; redirects and HTML links the backend
// answers with are rewritten to stay beneath prefix (proxyrewrite.go).
func (s *Server) proxyToPodNetwork(w http.ResponseWriter, r *http.Request, target *url.URL, prefix string) {
	rt := newRewritingTransport(podNetworkTransport(), r, target.Host, prefix)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			pr.Out.URL = &u
			// As upstream, the backend sees the Host the client asked for.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			dropClientCredentials(pr.Out.Header)
		},
		Transport:     rt,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var st apierrors.APIStatus
			if errors.As(err, &st) {
				s.writeError(w, r, err)
				return
			}
			s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: %v", err)))
		},
	}
	rp.ServeHTTP(w, r)
}

// dropClientCredentials removes what authenticated the client to the API
// server: the backend is not to act as the client.
func dropClientCredentials(h http.Header) {
	h.Del("Authorization")
	for k := range h {
		if strings.HasPrefix(k, "Impersonate-") {
			delete(h, k)
		}
	}
}
