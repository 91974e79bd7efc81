package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
)

// DefaultDialTimeout bounds connecting to etcd when ClientConfig has none.
const DefaultDialTimeout = 10 * time.Second

// ClientConfig says how to reach an etcd cluster.
type ClientConfig struct {
	// Endpoints are client URLs, http:// or https://.
	Endpoints []string
	// CAFile verifies the servers' certificates (default: system roots
	// when an endpoint is https); CertFile and KeyFile, given together,
	// are the client certificate.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds the first connection (default DefaultDialTimeout).
	DialTimeout time.Duration
	// Logger receives the client's warnings and errors; default
	// slog.Default().
	Logger *slog.Logger
}

// Validate reports the first problem with c.
func (c ClientConfig) Validate() error {
	if len(c.Endpoints) == 0 {
		return errors.New("etcd: no endpoints")
	}
	for _, ep := range c.Endpoints {
		u, err := url.Parse(ep)
		if err != nil {
			return fmt.Errorf("etcd: endpoint %q: %w", ep, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("etcd: endpoint %q: want http://host:port or https://host:port", ep)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("etcd: a client certificate needs both a cert file and a key file")
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("etcd: negative dial timeout %v", c.DialTimeout)
	}
	return nil
}

// tlsConfig returns the client TLS configuration, nil for plain http.
func (c ClientConfig) tlsConfig() (*tls.Config, error) {
	secure := c.CAFile != "" || c.CertFile != ""
	for _, ep := range c.Endpoints {
		secure = secure || strings.HasPrefix(ep, "https://")
	}
	if !secure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd: reading CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd: no certificates in CA file %s", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd: loading client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// NewClient connects to etcd and checks, within the dial timeout, that the
// cluster answers a consistent read, so a caller that gets a client can
// count on a reachable cluster with a leader. ctx bounds only that check;
// close the client when done.
func NewClient(ctx context.Context, cfg ClientConfig) (*clientv3.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		DialTimeout:          cfg.DialTimeout,
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		TLS:                  tlsCfg,
		Logger:               zapLogger(log.With("component", "etcd-client"), zapcore.WarnLevel),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: connecting to %v: %w", cfg.Endpoints, err)
	}
	checkCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := CurrentRevision(checkCtx, client); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("etcd: %v not ready: %w", cfg.Endpoints, err)
	}
	return client, nil
}

// revisionKey is the key CurrentRevision counts; any key would do, and
// counting costs etcd no value copies.
const revisionKey = "compact_rev_key"

// CurrentRevision returns the cluster's current revision from a
// linearizable read.
func CurrentRevision(ctx context.Context, client *clientv3.Client) (int64, error) {
	resp, err := client.Get(ctx, revisionKey, clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("storage: reading the current revision: %w", err)
	}
	return resp.Header.Revision, nil
}
