// Package storagetest is the behaviour suite every storage.Interface
// implementation must pass: the etcd3 store today, a watch cache in front
// of it later. It pins the Kubernetes semantics the apiserver relies on
// (resourceVersions, preconditions, paging, watch events, bookmarks, 410)
// with corev1 Pods as the stored objects. It holds no implementation.
package storagetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/storage"
)

// NewStoreFunc returns a fresh store for one subtest, the key prefix the
// subtest must keep its keys under ("" if it owns the whole keyspace), and
// a function that compacts the store's history before rev. The store must
// be configured like StoreConfig. Everything must be cleaned up with t.
type NewStoreFunc func(t *testing.T) (s storage.Interface, prefix string, compact func(rev int64))

// TTLAnnotation, on a Pod, is the TTL in seconds StoreConfig's TTL func
// gives it.
const TTLAnnotation = "storagetest.skiff.sh/ttl-seconds"

// BookmarkInterval is the BookmarkInterval StoreConfig uses, short so the
// bookmark tests are quick.
const BookmarkInterval = 300 * time.Millisecond

// StoreConfig is how the suite expects a store to be configured: Pods in
// core/v1, BookmarkInterval, and a TTL taken from TTLAnnotation.
func StoreConfig() storage.StoreConfig {
	return storage.StoreConfig{
		Codec:            storage.NewCodec(scheme.Scheme, corev1.SchemeGroupVersion),
		NewFunc:          func() runtime.Object { return &corev1.Pod{} },
		NewListFunc:      func() runtime.Object { return &corev1.PodList{} },
		BookmarkInterval: BookmarkInterval,
		TTL: func(obj runtime.Object) int64 {
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return 0
			}
			ttl, _ := strconv.ParseInt(pod.Annotations[TTLAnnotation], 10, 64)
			return ttl
		},
	}
}

// RunSuite runs every behaviour test as a subtest, each on its own store.
func RunSuite(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		run  func(h *harness)
	}{
		{"CreateGet", testCreateGet},
		{"GetResourceVersion", testGetResourceVersion},
		{"UpdatePreconditions", testUpdatePreconditions},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"UpdateNoop", testUpdateNoop},
		{"UpdateIgnoreNotFound", testUpdateIgnoreNotFound},
		{"UpdateErrorPassThrough", testUpdateErrorPassThrough},
		{"Delete", testDelete},
		{"ListPredicate", testListPredicate},
		{"ListSingleKey", testListSingleKey},
		{"ListPaging", testListPaging},
		{"ListPagingPredicate", testListPagingPredicate},
		{"ListResourceVersion", testListResourceVersion},
		{"ListExpired", testListExpired},
		{"ListInvalidContinue", testListInvalidContinue},
		{"WatchFromResourceVersion", testWatchFromResourceVersion},
		{"WatchPredicate", testWatchPredicate},
		{"WatchSingleKey", testWatchSingleKey},
		{"WatchCompacted", testWatchCompacted},
		{"WatchResourceVersionZero", testWatchResourceVersionZero},
		{"WatchChangesOnly", testWatchChangesOnly},
		{"WatchInitialEvents", testWatchInitialEvents},
		{"WatchBookmarks", testWatchBookmarks},
		{"WatchTooLarge", testWatchTooLarge},
		{"WatchStopUnread", testWatchStopUnread},
		{"WatchContextCancel", testWatchContextCancel},
		{"TTL", testTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, prefix, compact := newStore(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tc.run(&harness{t: t, ctx: ctx, s: s, prefix: prefix + "/pods/", compact: compact})
		})
	}
}
