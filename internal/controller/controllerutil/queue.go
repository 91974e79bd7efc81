package controllerutil

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// NewQueue returns a rate-limited queue of namespace/name keys with the
// usual per-item exponential backoff (5ms doubling to 1000s) and overall
// token bucket.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return NewQueueWithRateLimiter(name, workqueue.DefaultTypedControllerRateLimiter[string]())
}

// NewQueueWithRateLimiter is NewQueue with a controller's own requeue
// policy. Both report the workqueue metrics under the controller's name
// without its "-controller" suffix ("deployment", "replicaset"), as
// upstream's queues are named.
func NewQueueWithRateLimiter(name string, limiter workqueue.TypedRateLimiter[string]) workqueue.TypedRateLimitingInterface[string] {
	registerMetrics()
	return workqueue.NewTypedRateLimitingQueueWithConfig(limiter,
		workqueue.TypedRateLimitingQueueConfig[string]{Name: strings.TrimSuffix(name, "-controller")})
}

// KeyOf is the namespace/name key of an informer object, tombstones
// included; it returns "" for anything it cannot key.
func KeyOf(obj any) string {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return ""
	}
	return key
}

// SyncFunc reconciles one key. A nil error forgets the key's backoff; an
// error requeues it rate-limited.
type SyncFunc func(ctx context.Context, key string) error

// RunWorkers waits for the caches, runs workers goroutines over queue
// until ctx is done, then shuts the queue down and waits for them. It
// returns an error only when the caches never sync.
func RunWorkers(ctx context.Context, log *slog.Logger, name string, queue workqueue.TypedRateLimitingInterface[string],
	workers int, syncFn SyncFunc, synced ...cache.InformerSynced) error {
	defer queue.ShutDown()
	log.Info("starting controller", "workers", workers)
	defer log.Info("stopped controller")
	if !cache.WaitForNamedCacheSync(name, ctx.Done(), synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", name)
	}
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNextItem(ctx, log, name, queue, syncFn) {
			}
		}()
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
	return nil
}

func processNextItem(ctx context.Context, log *slog.Logger, name string, queue workqueue.TypedRateLimitingInterface[string], syncFn SyncFunc) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	start := time.Now()
	err := syncFn(ctx, key)
	if err == nil {
		queue.Forget(key)
		log.Debug("synced", "key", key, "took", time.Since(start))
		return true
	}
	syncErrors.WithLabelValues(strings.TrimSuffix(name, "-controller")).Inc()
	if apierrors.IsConflict(err) {
		// A write from a cache a step behind: the next sync reads the
		// newer object. Routine under churn, so not worth an info line.
		log.Debug("sync conflicted, requeueing", "key", key, "err", err)
	} else {
		log.Info("sync failed, requeueing", "key", key, "err", err)
	}
	queue.AddRateLimited(key)
	return true
}

// TrimManagedFields is an informer transform that drops managedFields:
// no controller reads them, and they are often the largest part of an
// object's metadata. Upstream's controller manager trims its informers
// the same way.
func TrimManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
