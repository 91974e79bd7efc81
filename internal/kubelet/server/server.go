// Package server is the kubelet's HTTPS API on port 10250: the node's
// pods, container logs, and the streaming endpoints (exec, attach,
// port-forward) that the API server proxies kubectl to. It authenticates
// clients by certificate and asks an authorizer before serving anything
// but /healthz.
//
// It owns no pod state and no runtime: pods come from a PodSource,
// runtime containers from a ContainerSource, and streams are served by
// the container runtime's own streaming server, to which this server
// reverse-proxies once the runtime has handed it a URL. It does not
// import the kubelet core (internal/kubelet), which wires it.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodSource is the kubelet's view of the pods bound to its node.
// Returned pods are shared: callers must not modify them.
type PodSource interface {
	GetPod(namespace, name string) (*corev1.Pod, bool)
	ListPods() []*corev1.Pod
}

// ContainerInfo locates one runtime container.
type ContainerInfo struct {
	ID string
	// LogPath is the container's CRI log file; empty means ask the
	// runtime's ContainerStatus for it.
	LogPath string
}

// ContainerSource maps a pod's containers to runtime containers.
type ContainerSource interface {
	// Container returns the runtime container of pod podUID named name:
	// the current one (running or the last to have run), or with previous
	// the one before it. ok=false when there is none.
	Container(podUID types.UID, name string, previous bool) (c ContainerInfo, ok bool)
	// Sandbox returns the ID of the pod's running sandbox.
	Sandbox(podUID types.UID) (id string, ok bool)
}

// Runtime is the part of the CRI runtime service the server uses; every
// k8s.io/cri-api apis.RuntimeService is one.
type Runtime interface {
	ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error)
	Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout, stderr []byte, err error)
}

// AuthorizeFunc decides whether user (in groups) may do verb on the
// node's resource/subresource, as the kubelet's authorizer sees requests:
// resource "nodes", subresource "proxy" for pods, logs and streams.
type AuthorizeFunc func(user string, groups []string, verb, resource, subresource string) bool

// Identities the default authorizer admits besides system:masters: the
// API server's kubelet client certificate names one of them.
const (
	APIServerKubeletClientUser = "kube-apiserver-kubelet-client"
	APIServerUser              = "system:kube-apiserver"
	groupMasters               = "system:masters"
	groupAuthenticated         = "system:authenticated"
)

// DefaultAuthorize admits system:masters and the API server's identities.
func DefaultAuthorize(user string, groups []string, _, _, _ string) bool {
	return user == APIServerKubeletClientUser || user == APIServerUser || slices.Contains(groups, groupMasters)
}

// Config is what the server needs. Validate fills defaults.
type Config struct {
	// Addr is where ListenAndServe listens (default ":10250").
	Addr string
	// TLSCert is the kubelet's serving certificate (signed by the cluster
	// CA, naming the node's addresses).
	TLSCert tls.Certificate
	// ClientCAs verify client certificates (the cluster CA).
	ClientCAs *x509.CertPool
	// Authorize decides each authenticated request (default
	// DefaultAuthorize).
	Authorize  AuthorizeFunc
	Pods       PodSource
	Containers ContainerSource
	Runtime    Runtime
	// StreamTransport carries proxied streams to the runtime's streaming
	// server (default: a plain transport; containerd serves on loopback).
	StreamTransport http.RoundTripper
	// LogPollInterval: how often a followed log is checked (default 100ms).
	LogPollInterval time.Duration
	Logger          *slog.Logger
}

// Validate fills defaults and checks the config.
func (c *Config) Validate() error {
	if c.Addr == "" {
		c.Addr = ":10250"
	}
	if len(c.TLSCert.Certificate) == 0 {
		return errors.New("kubelet server: a serving certificate is required")
	}
	if c.ClientCAs == nil {
		return errors.New("kubelet server: client CAs are required")
	}
	if c.Pods == nil || c.Containers == nil || c.Runtime == nil {
		return errors.New("kubelet server: Pods, Containers and Runtime are required")
	}
	if c.Authorize == nil {
		c.Authorize = DefaultAuthorize
	}
	if c.StreamTransport == nil {
		c.StreamTransport = &http.Transport{
			Proxy:                 nil, // the runtime's streaming server is local
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			ResponseHeaderTimeout: 30 * time.Second,
			ForceAttemptHTTP2:     false,
		}
	}
	if c.LogPollInterval <= 0 {
		c.LogPollInterval = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server is the kubelet's HTTPS server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
}

// New builds the server; Serve or ListenAndServe runs it.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.handler = s.withAuth(s.routes())
	return s, nil
}

// Handler serves the API without TLS (the handler reads r.TLS for the
// client's identity); tests and callers with their own listener use it.
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig is the server side of the kubelet's TLS: its serving
// certificate, and client certificates verified against ClientCAs when
// offered (/healthz needs none).
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{s.cfg.TLSCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    s.cfg.ClientCAs,
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: exec, attach and port-forward are HTTP/1.1
		// upgrades.
		NextProtos: []string{"http/1.1"},
	}
}

// ListenAndServe listens on Config.Addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("kubelet server: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves HTTPS on ln until ctx is done, then shuts down (closing
// ln). Streams still open are cut after a short grace period.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(tls.NewListener(ln, hs.TLSConfig)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("kubelet server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		_ = hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kubelet server: %w", err)
	}
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /pods", s.servePods)
	mux.HandleFunc("GET /pods/{$}", s.servePods)
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.serveContainerLogs)
	for _, p := range []string{"/exec/{namespace}/{pod}/{container}", "/exec/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc(p, s.serveExec)
	}
	for _, p := range []string{"/attach/{namespace}/{pod}/{container}", "/attach/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc(p, s.serveAttach)
	}
	for _, p := range []string{"/portForward/{namespace}/{pod}", "/portForward/{namespace}/{pod}/{uid}"} {
		mux.HandleFunc(p, s.servePortForward)
	}
	for _, p := range []string{"POST /run/{namespace}/{pod}/{container}", "POST /run/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc(p, s.serveRun)
	}
	return mux
}
