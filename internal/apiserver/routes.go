package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

// publicPaths answer without credentials, as upstream's
// system:public-info-viewer role allows.
func isPublicPath(p string) bool {
	switch {
	case p == "/healthz", p == "/livez", p == "/readyz", p == "/version",
		strings.HasPrefix(p, "/healthz/"), strings.HasPrefix(p, "/livez/"), strings.HasPrefix(p, "/readyz/"):
		return true
	}
	return false
}

// buildHandler assembles routing and the filter chain: metrics →
// request timeout (on a warm worker) → recover → body limit →
// authenticate → flow control → authorize → route.
func (s *Server) buildHandler() http.Handler {
	var h http.Handler = http.HandlerFunc(s.route)
	h = s.withAuthorization(h)
	h = s.withFlowControl(h)
	h = s.withAuthentication(h)
	h = s.withBodyLimit(h)
	h = s.withRecovery(h)
	h = s.withRequestTimeout(newWarmStacks(h, 8*runtime.GOMAXPROCS(0)))
	h = s.withMetrics(h)
	return h
}

func (s *Server) withMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		ri := parseRequestInfo(r)
		if !ri.ResourceRequest {
			return
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(ri.Verb, ri.APIGroup, ri.APIVersion, ri.Resource, ri.Subresource, strconv.Itoa(code)).Inc()
		if ri.Verb != "watch" {
			s.metrics.latency.WithLabelValues(ri.Verb, ri.APIGroup, ri.APIVersion, ri.Resource, ri.Subresource).Observe(time.Since(start).Seconds())
		}
	})
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/healthz" || p == "/livez" || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/healthz/"):
		s.serveHealth(w, r, true)
	case p == "/readyz" || strings.HasPrefix(p, "/readyz/"):
		s.serveHealth(w, r, s.Ready())
	case p == "/version" || p == "/version/":
		v := Version
		v.GoVersion, v.Platform = runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH
		data, _ := json.Marshal(v)
		writeJSONBytes(w, mediaJSON, data)
	case p == "/api" || p == "/api/":
		s.serveAPI(w, r)
	case p == "/apis" || p == "/apis/":
		s.serveAPIs(w, r)
	case strings.HasPrefix(p, "/openapi/"):
		s.openapi.serve(w, r)
	case p == "/metrics":
		s.serveMetrics(w, r)
	case s.cfg.Profiling && strings.HasPrefix(p, "/debug/pprof"):
		servePprof(w, r)
	case strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/apis/"):
		ri := parseRequestInfo(r)
		if ri.ResourceRequest {
			s.serveResource(w, r, ri)
			return
		}
		s.serveGroupDiscovery(w, r, ri)
	default:
		s.writeError(w, r, errNoRoute())
	}
}

// serveGroupDiscovery answers /api/v1, /apis/<group> and /apis/<g>/<v>.
func (s *Server) serveGroupDiscovery(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	parts := splitPath(r.URL.Path)
	switch {
	case parts[0] == "api" && len(parts) == 2:
		if data, ok := s.discovery.resourceLists[parts[1]]; ok {
			writeJSONBytes(w, mediaJSON, data)
			return
		}
	case parts[0] == "apis" && len(parts) == 2:
		if data, ok := s.discovery.groups[parts[1]]; ok {
			writeJSONBytes(w, mediaJSON, data)
			return
		}
	case parts[0] == "apis" && len(parts) == 3:
		if data, ok := s.discovery.resourceLists[parts[1]+"/"+parts[2]]; ok {
			writeJSONBytes(w, mediaJSON, data)
			return
		}
	}
	s.writeError(w, r, errNoRoute())
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request, ok bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if ok && strings.HasPrefix(r.URL.Path, "/readyz") {
		ctx, cancel := context.WithTimeout(r.Context(), 2e9)
		defer cancel()
		if _, err := s.cfg.Etcd.Get(ctx, "health"); err != nil {
			ok = false
		}
	}
	if !ok {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "[-]etcd or bootstrap not ready\n%s check failed\n", strings.TrimPrefix(r.URL.Path, "/"))
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		fmt.Fprintf(w, "[+]ping ok\n[+]etcd ok\n[+]poststarthook/bootstrap ok\n%s check passed\n", strings.TrimPrefix(r.URL.Path, "/"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				s.writeError(w, r, apierrors.NewInternalError(fmt.Errorf("%v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) withBodyLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxRequestBodyBytes {
			s.writeError(w, r, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", s.cfg.MaxRequestBodyBytes)))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) withAuthentication(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Authenticator == nil {
			u := &auth.User{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}
			next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), u)))
			return
		}
		u, ok, err := s.cfg.Authenticator.AuthenticateRequest(r)
		if err != nil || !ok {
			if isPublicPath(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), u)))
	})
}

func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Authorizer == nil || isPublicPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		u, _ := auth.UserFrom(r.Context())
		ri := parseRequestInfo(r)
		attrs := auth.Attributes{User: u, Verb: ri.Verb, Namespace: ri.Namespace, APIGroup: ri.APIGroup,
			APIVersion: ri.APIVersion, Resource: ri.Resource, Subresource: ri.Subresource, Name: ri.Name,
			Path: r.URL.Path, ResourceRequest: ri.ResourceRequest}
		decision, reason, err := s.cfg.Authorizer.Authorize(r.Context(), attrs)
		if err != nil || decision != auth.DecisionAllow {
			name := "unknown"
			if u != nil {
				name = u.Name
			}
			msg := fmt.Sprintf("User %q cannot %s resource %q in API group %q", name, ri.Verb, ri.Resource, ri.APIGroup)
			if reason != "" {
				msg += ": " + reason
			}
			s.writeError(w, r, apierrors.NewForbidden(schema.GroupResource{Group: ri.APIGroup, Resource: ri.Resource}, ri.Name, fmt.Errorf("%s", msg)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// servePprof answers /debug/pprof/: the index, the named profiles, and
// cmdline, profile (CPU), symbol and trace.
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		if r.URL.Path == "/debug/pprof" {
			http.Redirect(w, r, "/debug/pprof/", http.StatusMovedPermanently)
			return
		}
		pprof.Index(w, r)
	}
}
