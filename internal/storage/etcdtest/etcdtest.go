// Package etcdtest gives tests an etcd to talk to: by default a fresh
// embedded member in a temp dir on free loopback ports, reached through
// its local client as the server reaches it; with
// SKIFF_TEST_ETCD_SERVERS set, an external cluster, with each test isolated
// under a unique key prefix. It owns no production code path.
package etcdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiff-sh/skiff/internal/storage"
)

// EnvServers names the variable that points tests at an external etcd:
// comma-separated client URLs such as http://127.0.0.1:2379.
const EnvServers = "SKIFF_TEST_ETCD_SERVERS"

// Start returns a client of an etcd for tb and the key prefix tb must keep
// its keys under: "" for an embedded member (tb owns all of it), or a
// unique "/skifftest-<random>" on an external cluster, whose keys are
// deleted when tb ends. Everything Start creates is cleaned up with tb.
//
// Compaction is cluster-wide: tests that compact an external cluster
// affect other tests using it at the same time.
func Start(tb testing.TB) (*clientv3.Client, string) {
	tb.Helper()
	if servers := os.Getenv(EnvServers); servers != "" {
		return startExternal(tb, strings.Split(servers, ","))
	}
	// The server's path to an embedded member.
	client := StartMember(tb).LocalClient()
	tb.Cleanup(func() { _ = client.Close() })
	return client, ""
}

// StartEndpoints is Start for a test that connects by itself: it returns
// the cluster's client URLs and the key prefix to keep under.
func StartEndpoints(tb testing.TB) ([]string, string) {
	tb.Helper()
	if servers := os.Getenv(EnvServers); servers != "" {
		client, prefix := startExternal(tb, strings.Split(servers, ","))
		return client.Endpoints(), prefix
	}
	return StartMember(tb).Endpoints(), ""
}

// StartMember starts an embedded member on free loopback ports that
// stops when tb ends, for a test that needs the member itself.
func StartMember(tb testing.TB) *storage.Embedded {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	member, err := storage.StartEmbedded(ctx, storage.EmbeddedConfig{
		DataDir:   tb.TempDir(),
		ClientURL: "http://127.0.0.1:0",
		PeerURL:   "http://127.0.0.1:0",
		Logger:    Logger(),
	})
	if err != nil {
		tb.Fatalf("etcdtest: %v", err)
	}
	tb.Cleanup(func() { _ = member.Close() })
	return member
}

// startExternal connects to an external cluster and reserves a prefix.
func startExternal(tb testing.TB, endpoints []string) (*clientv3.Client, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := storage.NewClient(ctx, storage.ClientConfig{Endpoints: endpoints, Logger: Logger()})
	if err != nil {
		tb.Fatalf("etcdtest: %s=%v: %v", EnvServers, endpoints, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "/skifftest-" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := client.Delete(ctx, prefix+"/", clientv3.WithPrefix()); err != nil {
			tb.Errorf("etcdtest: deleting %s/: %v", prefix, err)
		}
		_ = client.Close()
	})
	return client, prefix
}

// Logger is the logger test servers use: silent unless SKIFF_TEST_LOG is
// set, then debug output on stderr.
func Logger() *slog.Logger {
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
