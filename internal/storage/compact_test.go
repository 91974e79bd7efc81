package storage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// startEtcd runs an embedded member for this package's internal tests
// (etcdtest imports storage, so they cannot use it).
func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	m, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: t.TempDir(), ClientURL: "http://127.0.0.1:0",
		PeerURL: "http://127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	client, err := NewClient(ctx, ClientConfig{Endpoints: m.Endpoints(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// TestCompactorCoordination runs two servers' compactors against one etcd:
// each interval exactly one compacts, to the revision of the tick before.
func TestCompactorCoordination(t *testing.T) {
	client := startEtcd(t)
	ctx := context.Background()
	a, b := &compactor{client: client}, &compactor{client: client}
	put := func() int64 {
		resp, err := client.Put(ctx, "/k", time.Now().String())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	compactedBefore := func(rev int64) bool {
		_, err := client.Get(ctx, "/k", clientv3.WithRev(rev-1))
		return errors.Is(err, rpctypes.ErrCompacted)
	}

	put()
	tick := func(c *compactor) {
		if err := c.tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tick(a) // a claims the first interval; nothing to compact yet
	firstTick := a.rev
	tick(b) // b loses and follows a
	put()
	tick(a) // a compacts to the revision of its previous tick
	if !compactedBefore(firstTick) {
		t.Fatalf("history before %d not compacted", firstTick)
	}
	secondTick := a.rev
	tick(b) // b loses again
	put()
	if compactedBefore(secondTick) {
		t.Fatalf("compacted twice in one interval")
	}
	prevB := b.rev
	tick(b) // b saw the current version, so it wins this interval
	if !compactedBefore(prevB) {
		t.Fatalf("b did not compact to its previous tick %d", prevB)
	}
	resp, err := client.Get(ctx, compactKey)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("compact key: %v %v", resp, err)
	}
	if v := resp.Kvs[0].Version; v != 3 {
		t.Fatalf("compact key version %d, want 3 (one per winning tick)", v)
	}
}

func TestRunCompactorStops(t *testing.T) {
	client := startEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunCompactor(ctx, client, 20*time.Millisecond) }()
	// Let it tick at least twice (a loaded machine may take a while).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := client.Get(context.Background(), compactKey); err == nil && len(resp.Kvs) == 1 && resp.Kvs[0].Version >= 2 {
			break
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunCompactor: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("RunCompactor did not return after cancel")
	}
	resp, err := client.Get(context.Background(), compactKey)
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Version < 2 {
		t.Fatalf("compactor did not tick: %v %v", resp, err)
	}
}
