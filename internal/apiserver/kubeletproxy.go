package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/storage"
)

// serveNodeProxied answers the subresources a node's kubelet serves:
// pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy.
// pods/proxy and services/proxy go to pods, not kubelets
// (proxysubresource.go).
func (s *Server) serveNodeProxied(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns string, ri requestInfo) {
	name := ri.Name
	if ep.res.Resource == "nodes" {
		// nodes/<name>:<port>/proxy names the kubelet port too.
		name, _, _ = strings.Cut(name, ":")
	}
	obj := ep.res.New()
	if err := ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, obj); err != nil {
		s.writeError(w, r, toAPIError(err, ep.res.GroupResource(), name))
		return
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		switch ri.Subresource {
		case "log":
			s.servePodLog(ctx, w, r, o)
			return
		case "exec", "attach":
			s.servePodRemoteCommand(ctx, w, r, o, ri)
			return
		case "portforward":
			s.servePodPortForward(ctx, w, r, o, ri)
			return
		}
	case *corev1.Node:
		if ri.Subresource == "proxy" {
			s.serveNodeProxy(ctx, w, r, o, ri)
			return
		}
	}
	s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("%s/%s is not served yet", ri.Resource, ri.Subresource)))
}

// serveNodeProxy passes /api/v1/nodes/<name>/proxy/<path> to the
// kubelet's /<path>, whatever the method, upgrades included.
func (s *Server) serveNodeProxy(ctx context.Context, w http.ResponseWriter, r *http.Request, node *corev1.Node, ri requestInfo) {
	base, err := s.kubeletURL(ctx, node.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, port, ok := strings.Cut(ri.Name, ":"); ok {
		base.Host = net.JoinHostPort(base.Hostname(), port)
	}
	// The path after .../proxy, escaped as the client sent it.
	_, rest := splitProxyPath(r, ri)
	if rest == "" {
		rest = "/"
	}
	target, err := url.Parse(base.String() + rest)
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("bad proxy path %q", rest)))
		return
	}
	target.RawQuery = r.URL.RawQuery
	s.proxyToKubelet(w, r, target, nil)
}

// proxyToKubelet sends the request to target on a kubelet with the API
// server's client certificate and copies the answer back; an upgrade
// (SPDY exec, attach, port-forward) is spliced through both ways. With
// errorsFor set, a kubelet's error answer becomes a Status for that
// resource, as clients of the API expect (streaming clients decode the
// body of a refused upgrade as one); nodes/proxy passes answers as they
// are but for links beneath its prefix (proxyrewrite.go).
func (s *Server) proxyToKubelet(w http.ResponseWriter, r *http.Request, target *url.URL, errorsFor *kubeletErrorTarget) {
	var modify func(*http.Response) error
	if errorsFor != nil {
		modify = func(resp *http.Response) error {
			if resp.StatusCode < 400 {
				return nil
			}
			st := statusOf(kubeletResponseError(resp, errorsFor.resource, errorsFor.name))
			_ = resp.Body.Close()
			data, err := json.Marshal(&st)
			if err != nil {
				return err
			}
			resp.StatusCode, resp.Status = int(st.Code), ""
			resp.Header = http.Header{"Content-Type": {"application/json"}}
			resp.Body = io.NopCloser(bytes.NewReader(data))
			resp.ContentLength = int64(len(data))
			return nil
		}
	}
	var transport http.RoundTripper = s.kubelet.transport
	if errorsFor == nil {
		// nodes/proxy: as pods/proxy, the kubelet's redirects and pages
		// are rewritten to stay beneath .../proxy.
		prefix, _ := splitProxyPath(r, parseRequestInfo(r))
		transport = newRewritingTransport(transport, r, target.Host, prefix)
	}
	rp := &httputil.ReverseProxy{
		ModifyResponse: modify,
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			pr.Out.URL = &u
			pr.Out.Host = target.Host
			// The client's credentials are for the API server only.
			dropClientCredentials(pr.Out.Header)
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, kubeletDialError(err))
		},
	}
	rp.ServeHTTP(w, r)
}

// kubeletErrorTarget names the object kubelet errors are reported for.
type kubeletErrorTarget struct {
	resource schema.GroupResource
	name     string
}

// hijackable lets handlers that assert http.Hijacker on the writer
// (WebSocket and SPDY servers) reach the connection beneath the
// wrappers the filters put around it.
type hijackable struct{ http.ResponseWriter }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

func (h hijackable) Flush() { _ = http.NewResponseController(h.ResponseWriter).Flush() }
