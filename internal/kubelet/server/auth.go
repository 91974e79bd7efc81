package server

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"k8s.io/streaming/pkg/httpstream"
)

// withAuth authenticates the client certificate and authorizes the
// request the way the kubelet's authorizer sees it: resource "nodes",
// subresource "proxy" (or stats, metrics, log, spec for those paths).
// /healthz is open, as the kubelet's health port is.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		user, groups, err := s.authenticate(r)
		if err != nil {
			s.log.Debug("kubelet server: unauthenticated request", "path", r.URL.Path, "err", err)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		verb, subresource := requestVerb(r), pathSubresource(r.URL.Path)
		if !s.cfg.Authorize(user, groups, verb, "nodes", subresource) {
			msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", user, verb, subresource)
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate names the client from its certificate. The TLS layer has
// already verified an offered certificate against ClientCAs; checking
// again keeps the handler safe behind any TLS configuration.
func (s *Server) authenticate(r *http.Request) (string, []string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", nil, fmt.Errorf("no client certificate")
	}
	leaf := r.TLS.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.cfg.ClientCAs, Intermediates: intermediates,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return "", nil, err
	}
	if leaf.Subject.CommonName == "" {
		return "", nil, fmt.Errorf("client certificate names no user")
	}
	groups := slices.Clone(leaf.Subject.Organization)
	if !slices.Contains(groups, groupAuthenticated) {
		groups = append(groups, groupAuthenticated)
	}
	return leaf.Subject.CommonName, groups, nil
}

// requestVerb maps the HTTP method to a Kubernetes verb. A stream opened
// with GET (WebSocket clients must) still runs a command, so it needs
// create like a POST.
func requestVerb(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if httpstream.IsUpgradeRequest(r) && isStreamingPath(r.URL.Path) {
			return "create"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(r.Method)
}

func isStreamingPath(p string) bool {
	for _, prefix := range []string{"/exec/", "/attach/", "/portForward/", "/run/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// pathSubresource is the kubelet's mapping of paths to node subresources.
func pathSubresource(p string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	switch first {
	case "stats":
		return "stats"
	case "metrics":
		return "metrics"
	case "logs":
		return "log"
	case "spec":
		return "spec"
	}
	return "proxy"
}
