// Package framework starts skiff control planes for tests and benchmarks:
// an in-process server on a loopback port with etcd from etcdtest (embedded
// in a temp dir, or the external cluster named by SKIFF_TEST_ETCD_SERVERS),
// and clients for it. Everything it starts is stopped by t.Cleanup.
package framework

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/app"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
)

// Server is a running in-process skiff control plane.
type Server struct {
	URL        string
	Kubeconfig string
	DataDir    string
	// JoinToken is what `skiff agent --token` takes.
	JoinToken string
	// EtcdServers and EtcdPrefix locate its state, so a test can start a
	// second server on the same data (restart).
	EtcdServers []string
	EtcdPrefix  string
	// App is the server itself, for tests of its in-process parts.
	App    *app.Server
	cancel context.CancelFunc
	done   chan error
}

// Options tweak StartServer.
type Options struct {
	// DataDir to reuse (restart tests); default a new temp dir.
	DataDir string
	// Etcd to reuse; default a new etcdtest instance.
	EtcdServers []string
	EtcdPrefix  string
	// Components runs the controller manager and the scheduler in the
	// server too (off by default: API tests want an idle cluster).
	Components bool
	// NodeMonitorGracePeriod for the node lifecycle controller (default
	// upstream's 40s; tests of node loss shorten it).
	NodeMonitorGracePeriod time.Duration
	// AdvertiseAddress for the kubernetes Service's endpoints (default
	// 127.0.0.1, for which none are published). Nothing connects to it.
	AdvertiseAddress string
	// DisableCompressionForClientIPs for the API server (default nil:
	// app.DefaultNoCompressionClients, so loopback clients get no gzip;
	// an empty list gzips large responses for every client).
	DisableCompressionForClientIPs []string
}

// StartServer starts a control plane and waits until it is ready.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if len(opts.EtcdServers) == 0 {
		servers, prefix := etcdtest.StartEndpoints(t)
		opts.EtcdServers = servers
		opts.EtcdPrefix = prefix + "/registry"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.AdvertiseAddress == "" {
		opts.AdvertiseAddress = "127.0.0.1"
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.NewServer(ctx, app.ServerConfig{
		DataDir:                  opts.DataDir,
		BindAddress:              "127.0.0.1",
		AdvertiseAddress:         opts.AdvertiseAddress,
		Listener:                 ln,
		EtcdServers:              opts.EtcdServers,
		EtcdPrefix:               opts.EtcdPrefix,
		Logger:                   logger,
		DisableControllerManager: !opts.Components,
		DisableScheduler:         !opts.Components,
		NodeMonitorGracePeriod:   opts.NodeMonitorGracePeriod,
		DisableRegistry:          true, // test binaries are not static: nothing to seed
		DisableDNS:               true, // servers run side by side on loopback
		DisableAgent:             true, // no containers in the integration tier

		DisableCompressionForClientIPs: opts.DisableCompressionForClientIPs,
	})
	if err != nil {
		cancel()
		t.Fatalf("starting skiff server: %v", err)
	}
	s := &Server{URL: srv.URL, Kubeconfig: srv.KubeconfigPath, DataDir: opts.DataDir, JoinToken: srv.JoinToken,
		EtcdServers: opts.EtcdServers, EtcdPrefix: opts.EtcdPrefix, App: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Run(ctx) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("skiff server not ready after 30s")
		}
		select {
		case err := <-s.done:
			t.Fatalf("skiff server exited: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return s
}

// Stop shuts the server down and waits for it (idempotent).
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
	}
}

// RestConfig is an admin client config (JSON by default: set
// ContentType to protobuf to exercise that path).
func (s *Server) RestConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg
}

// Client is an admin clientset using client-go's defaults (protobuf
// request bodies for typed clients).
func (s *Server) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cfg := s.RestConfig(t)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	return cs
}
