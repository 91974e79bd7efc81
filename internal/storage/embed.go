package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap/zapcore"
)

// EmbeddedConfig configures the single-member etcd skiff runs in-process
// when no external cluster is given.
type EmbeddedConfig struct {
	// DataDir holds the member's WAL and database; created if missing.
	DataDir string
	// ClientURL and PeerURL are where etcd listens (default
	// http://127.0.0.1:2379 and http://127.0.0.1:2380). Port 0 picks a free
	// port; Endpoints reports the one chosen.
	ClientURL, PeerURL string
	// Name is the member name (default "skiff"); keep it stable across
	// restarts of one data dir.
	Name string
	// StartTimeout bounds waiting for the member to serve (default 30s).
	StartTimeout time.Duration
	// Logger receives etcd's errors; default slog.Default().
	Logger *slog.Logger
}

// Embedded defaults.
const (
	DefaultEmbeddedClientURL = "http://127.0.0.1:2379"
	DefaultEmbeddedPeerURL   = "http://127.0.0.1:2380"
	defaultEmbeddedName      = "skiff"
	defaultStartTimeout      = 30 * time.Second
	// embeddedQuotaBytes is the backend size at which etcd raises its
	// NOSPACE alarm; etcd's default of 2 GiB is tight for a busy cluster.
	embeddedQuotaBytes = 8 << 30
)

func (c EmbeddedConfig) withDefaults() EmbeddedConfig {
	if c.ClientURL == "" {
		c.ClientURL = DefaultEmbeddedClientURL
	}
	if c.PeerURL == "" {
		c.PeerURL = DefaultEmbeddedPeerURL
	}
	if c.Name == "" {
		c.Name = defaultEmbeddedName
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = defaultStartTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first problem with c (after defaults).
func (c EmbeddedConfig) Validate() error {
	c = c.withDefaults()
	if c.DataDir == "" {
		return errors.New("embedded etcd: no data dir")
	}
	for _, u := range []string{c.ClientURL, c.PeerURL} {
		if _, err := parseHTTPURL(u); err != nil {
			return fmt.Errorf("embedded etcd: %w", err)
		}
	}
	if c.StartTimeout < 0 {
		return fmt.Errorf("embedded etcd: negative start timeout %v", c.StartTimeout)
	}
	return nil
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", s, err)
	}
	if u.Scheme != "http" || u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("url %q: want http://host:port", s)
	}
	return u, nil
}

// Embedded is a running in-process etcd member.
type Embedded struct {
	etcd      *embed.Etcd
	endpoints []string
	closeOnce sync.Once
}

// StartEmbedded starts a single-member etcd and returns once it serves
// clients; ctx bounds only the start, Close stops the member. It is tuned for a small machine: logging at error level,
// metrics only on the client port, no auto-compaction (RunCompactor
// compacts), and a short election tick so a single member elects itself
// within tens of milliseconds.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	e, err := embed.StartEtcd(embedConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: starting: %w", err)
	}
	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: failed while starting: %w", err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s: not ready after %v (is the data dir from another cluster, or a port in use?)",
			cfg.DataDir, cfg.StartTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", ctx.Err())
	}
	m := &Embedded{etcd: e}
	for _, l := range e.Clients {
		m.endpoints = append(m.endpoints, "http://"+l.Addr().String())
	}
	return m, nil
}

// embedConfig translates cfg into etcd's configuration.
func embedConfig(cfg EmbeddedConfig) *embed.Config {
	clientURL, _ := parseHTTPURL(cfg.ClientURL)
	peerURL, _ := parseHTTPURL(cfg.PeerURL)
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.DataDir
	ec.ListenClientUrls = []url.URL{*clientURL}
	ec.AdvertiseClientUrls = []url.URL{*clientURL}
	ec.ListenPeerUrls = []url.URL{*peerURL}
	ec.AdvertisePeerUrls = []url.URL{*peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(cfg.Name)
	ec.InitialClusterToken = "skiff"

	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(
		zapLogger(cfg.Logger.With("component", "etcd"), zapcore.ErrorLevel))

	// A lone member elects itself after 1..ElectionMs/TickMs+1 ticks.
	ec.TickMs, ec.ElectionMs = 20, 100
	// skiff compacts through RunCompactor, coordinated between servers.
	ec.AutoCompactionMode, ec.AutoCompactionRetention = embed.CompactorModePeriodic, "0"
	ec.QuotaBackendBytes = embeddedQuotaBytes
	// Fewer raft entries kept in memory between snapshots.
	ec.SnapshotCount = 5000
	ec.SnapshotCatchUpEntries = 1000
	ec.Metrics = "basic"
	ec.ListenMetricsUrls = nil
	ec.EnableGRPCGateway = false
	ec.EnablePprof = false
	return ec
}

// LocalClient returns a client that calls the member's request handlers
// directly, without a socket, gRPC framing or protobuf encoding between
// them: the API server's path to an embedded etcd. It behaves as a network
// client of the same member, except that a gRPC interceptor's checks (the
// leader requirement, per-connection limits) have nothing to apply to.
// Close it before the member.
func (m *Embedded) LocalClient() *clientv3.Client {
	client := v3client.New(m.etcd.Server)
	// The client lists no endpoints to ask for their versions; the member
	// is this binary's etcd.
	knownProgressSupport(client, progressFixedIn(version.Version))
	return client
}

// Endpoints are the client URLs to reach the member at.
func (m *Embedded) Endpoints() []string { return append([]string(nil), m.endpoints...) }

// Err delivers a fatal error of the running member.
func (m *Embedded) Err() <-chan error { return m.etcd.Err() }

// Close stops the member, waiting for in-flight requests for a few
// seconds. Close clients first so their watches do not hold it up.
func (m *Embedded) Close() error {
	m.closeOnce.Do(m.etcd.Close)
	return nil
}
