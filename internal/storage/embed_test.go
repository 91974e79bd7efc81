package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
)

// TestEmbeddedRestart starts a member on a fresh data dir, writes, restarts
// it on the same dir and reads the write back. It logs both start times.
func TestEmbeddedRestart(t *testing.T) {
	ctx := context.Background()
	cfg := storage.EmbeddedConfig{
		DataDir:   t.TempDir(),
		ClientURL: "http://127.0.0.1:0",
		PeerURL:   "http://127.0.0.1:0",
		Logger:    etcdtest.Logger(),
	}
	start := time.Now()
	m, err := storage.StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh start: %v", time.Since(start))
	client, err := storage.NewClient(ctx, storage.ClientConfig{Endpoints: m.Endpoints(), Logger: etcdtest.Logger()})
	if err != nil {
		_ = m.Close()
		t.Fatal(err)
	}
	if _, err := client.Put(ctx, "/k", "v"); err != nil {
		t.Fatal(err)
	}
	_ = client.Close()
	_ = m.Close()

	start = time.Now()
	m, err = storage.StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Logf("restart: %v", time.Since(start))
	client, err = storage.NewClient(ctx, storage.ClientConfig{Endpoints: m.Endpoints(), Logger: etcdtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	resp, err := client.Get(ctx, "/k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("after restart: %v %v", resp, err)
	}
}

func TestEmbeddedConfigValidate(t *testing.T) {
	for name, cfg := range map[string]storage.EmbeddedConfig{
		"no data dir":  {},
		"bad client":   {DataDir: "/x", ClientURL: "127.0.0.1:2379"},
		"peer no port": {DataDir: "/x", PeerURL: "http://127.0.0.1"},
		"https":        {DataDir: "/x", ClientURL: "https://127.0.0.1:2379"},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
	}
	if err := (storage.EmbeddedConfig{DataDir: "/x"}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
