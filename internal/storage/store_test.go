package storage_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// TestStore runs the storage suite against the etcd3 store, each subtest
// on its own etcd (see etcdtest).
func TestStore(t *testing.T) {
	storagetest.RunSuite(t, func(t *testing.T) (storage.Interface, string, func(int64)) {
		client, prefix := etcdtest.Start(t)
		compact := func(rev int64) {
			if err := storage.Compact(context.Background(), client, rev); err != nil {
				t.Fatalf("compact: %v", err)
			}
		}
		return storage.NewStore(client, storagetest.StoreConfig()), prefix, compact
	})
}

// TestWatchGoroutinesEnd starts and stops many watches and expects the
// goroutine count back where it was: Stop leaks nothing.
func TestWatchGoroutinesEnd(t *testing.T) {
	client, prefix := etcdtest.Start(t)
	s := storage.NewStore(client, storagetest.StoreConfig())
	ctx := context.Background()
	key := prefix + "/pods/"
	start := func() watch.Interface {
		w, err := s.Watch(ctx, key, storage.WatchOptions{Recursive: true, AllowBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	// Warm up: the first watch opens the client's gRPC watch stream.
	warm := start()
	defer warm.Stop()
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()

	var ws []watch.Interface
	for range 20 {
		ws = append(ws, start())
	}
	for _, w := range ws {
		w.Stop()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after stopping 20 watches, %d before:\n%s",
				runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
