package storage

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// Lists are served from the watch cache's state (watch_cache_state.go)
// when Kubernetes' own API server would serve them from its watch cache
// (and Gets at "0" or N as well, see getFromCache):
//
//   - "0": any recent state, at once, from whatever the cache has;
//   - N (NotOlderThan): once the cache reaches N, which it waits for
//     briefly and then fails with ErrTooLargeResourceVersion (504);
//   - "" (a consistent read): etcd's current revision is read (a cheap
//     count-only read) and the cache waited for, asking etcd for progress
//     notifications meanwhile, as upstream's ConsistentListFromCache; if it
//     does not get there in time the list reads etcd instead;
//   - a continue token or Exact N: from the state if it is at exactly that
//     revision, or from a snapshot a paged list kept (upstream's snapshots
//     of the cache); otherwise from etcd, which reads exactly that revision
//     or answers 410 once it is compacted. A revision etcd has compacted
//     is 410 from the cache too, as from etcd.
//
// Consistent and NotOlderThan reads come from the cache only when every
// etcd member's progress notifications can be trusted (etcdversion.go);
// with an older etcd they read etcd, as upstream's do.
//
// Paged lists from the cache keep their snapshot for the next pages, for
// watchCacheWindow. Lists of a store without a KeyPrefix, or before the
// cache has listed its state within the wait, read etcd.

// cacheWait bounds how long a consistent or "0" list waits for the cache
// before it reads etcd instead.
const cacheWait = 3 * time.Second

// listFromCache serves the list from the cache when it can; served is
// false when the caller must read etcd.
func (s *store) listFromCache(ctx context.Context, key string, opts ListOptions, listObj runtime.Object) (served bool, err error) {
	c := s.cacheFor(key)
	if c == nil {
		return false, nil
	}
	read, err := planList(key, opts)
	if err != nil {
		return false, nil // etcd's path reports it
	}
	if !strings.HasPrefix(read.start, c.prefix) {
		return false, nil
	}
	var snap cacheSnapshot
	var ok bool
	switch {
	case read.rev > 0:
		// A continue token or Exact: only a state at exactly that revision.
		if snap, ok = c.snapshotAt(read.rev, read.index); !ok {
			return false, nil
		}
		if !s.retainedAt(ctx, read.rev) {
			return false, nil // etcd answers 410
		}
	case read.serializable:
		s.startCache(ctx, c)
		if snap, ok, err = c.waitReady(ctx, 0, cacheWait, false, read.index); err != nil || !ok {
			return false, err
		}
	case read.minRev > 0:
		if !progressNotifyReliable(ctx, s.client) {
			return false, nil
		}
		s.startCache(ctx, c)
		if snap, ok, err = c.waitReady(ctx, read.minRev, s.revisionWait, true, read.index); err != nil {
			return false, err
		}
		if !ok {
			// The cache is not there yet; etcd may be (the cache waits on
			// progress notifications, which a busy stream delays).
			cur, err := s.CurrentRevision(ctx)
			if err != nil || cur >= read.minRev || !c.isReady() {
				return false, err
			}
			return true, tooLargeError(read.minRev, cur)
		}
	default:
		if !progressNotifyReliable(ctx, s.client) {
			return false, nil // see etcdversion.go
		}
		rev, err := s.CurrentRevision(ctx)
		if err != nil {
			return false, err
		}
		c.ensureStarted(rev)
		if snap, ok, err = c.waitReady(ctx, rev, cacheWait, true, read.index); err != nil || !ok {
			return false, err
		}
	}
	page, err := readSnapshot(snap, read, opts.Limit, opts.Predicate)
	if err != nil {
		return true, err
	}
	if page.next != "" {
		c.mu.Lock()
		c.retainLocked(snap)
		c.mu.Unlock()
	}
	return true, s.fillList(listObj, read, page, opts.Predicate == nil)
}

// getFromCache serves a Get at "0" (any state) or NotOlderThan minRev
// from the watch cache, as upstream's cacher does: when the cache has
// listed its state, reached minRev and holds the key. Otherwise the read
// goes to etcd: a cache not there yet is not waited for, since a single
// key is a cheap read; and a key the cache lacks may be one it has not
// yet seen created (a namespace created a moment ago must not make a
// create in it fail). The object is copied: callers may change it.
func (s *store) getFromCache(key string, minRev int64, out runtime.Object) (served bool, err error) {
	c := s.cacheFor(key)
	if c == nil {
		return false, nil
	}
	c.mu.Lock()
	var e *stateEntry
	if c.ready && c.headRev >= minRev {
		e = c.state.get(key)
	}
	c.mu.Unlock()
	if e == nil {
		return false, nil
	}
	dst, src := reflect.ValueOf(out), reflect.ValueOf(e.obj)
	if dst.Kind() != reflect.Pointer || dst.IsNil() || dst.Type() != src.Type() {
		return false, nil // not the cache's type: etcd's path decodes into it
	}
	dst.Elem().Set(reflect.ValueOf(e.obj.DeepCopyObject()).Elem())
	return true, nil
}

// startCache starts the cache at etcd's current revision if it has not
// started; errors leave it to the etcd path.
func (s *store) startCache(ctx context.Context, c *watchCache) {
	if c.isStarted() {
		return
	}
	if rev, err := s.CurrentRevision(ctx); err == nil {
		c.ensureStarted(rev)
	}
}

// retainedAt reports whether etcd can still read at rev (not compacted).
// Errors count as no, so the etcd path reports them.
func (s *store) retainedAt(ctx context.Context, rev int64) bool {
	_, err := s.client.Get(ctx, revisionKey, clientv3.WithRev(rev), clientv3.WithCountOnly(), clientv3.WithSerializable())
	return err == nil
}

// readSnapshot is readList over a snapshot: the matching entries in
// [read.start, read.end), at most limit of them, and where the next page
// starts. With a limit, the page ends at the limit only if another match
// follows, so the last page has no continue token.
func readSnapshot(snap cacheSnapshot, read listRead, limit int64, pred Predicate) (*listPage, error) {
	page := &listPage{rev: snap.rev, remaining: -1}
	// Without a predicate every entry is an item, and an earlier page of
	// this list may have counted the entries from here on.
	total, counted := int64(0), false
	if pred == nil {
		total, counted = snap.counts.get(read.start, read.end)
	}
	var err error
	entries := snap.items
	if pred != nil {
		// The predicate promises to match only entries of read.index.
		entries = snap.entries(read.index)
	}
	entries.ascend(read.start, read.end, func(e *stateEntry) bool {
		if page.next != "" {
			// Counting what the next pages hold, which is only reported
			// (as remainingItemCount) for lists without a predicate.
			if pred != nil || counted {
				return false
			}
			page.remaining++
			return true
		}
		ok, merr := matches(pred, e.obj)
		if merr != nil {
			err = fmt.Errorf("%s: %w", e.key, merr)
			return false
		}
		if !ok {
			return true
		}
		if limit > 0 && int64(len(page.items)) == limit {
			page.next, page.remaining = e.key, 1
			return true
		}
		page.items = append(page.items, e.obj)
		return true
	})
	if err != nil {
		return nil, err
	}
	if page.next != "" && pred == nil {
		if counted {
			page.remaining = total - int64(len(page.items))
		}
		snap.counts.set(page.next, read.end, page.remaining)
	}
	return page, nil
}

// isStarted reports whether the shared watch has been started.
func (c *watchCache) isStarted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started
}

// isReady reports whether the state has been listed.
func (c *watchCache) isReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// initialStateFromCache reads a watch's initial state from the cache at
// a consistent revision at least minRev, as a consistent list does,
// waiting up to wait for the cache to get there (asking etcd for progress
// meanwhile); served is false when the caller must read etcd: no cache
// for the key, an etcd whose progress notifications cannot be trusted, or
// a cache that did not catch up in time.
func (s *store) initialStateFromCache(ctx context.Context, read listRead, minRev int64, pred Predicate, wait time.Duration) (*listPage, bool, error) {
	c := s.cacheFor(read.start)
	if c == nil || !progressNotifyReliable(ctx, s.client) {
		return nil, false, nil
	}
	rev, err := s.CurrentRevision(ctx)
	if err != nil {
		return nil, false, err
	}
	c.ensureStarted(rev)
	snap, ok, err := c.waitReady(ctx, max(rev, minRev), wait, wait > 0, read.index)
	if err != nil || !ok {
		return nil, false, err
	}
	page, err := readSnapshot(snap, read, 0, pred)
	return page, err == nil, err
}

// initialState reads a watch's initial state: from the cache when it can
// (above), else from etcd — but only maxConcurrentStateReads watches of a
// resource at a time, each looking at the cache again once its turn
// comes. A watch's state read from etcd is the whole range, decoded, only
// to be filtered; when an overloaded server's cache lags, a thousand
// kubelets re-watching at once each made one, and the server went from
// 3.5 to 20 GiB in a minute and a half. Waiting watches hold no memory,
// and most find the cache caught up by their turn.
func (s *store) initialState(ctx context.Context, read listRead, minRev int64, pred Predicate) (*listPage, error) {
	page, served, err := s.initialStateFromCache(ctx, read, minRev, pred, cacheWait)
	if served || err != nil {
		return page, err
	}
	select {
	case s.stateReads <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.stateReads }()
	if page, served, err := s.initialStateFromCache(ctx, read, minRev, pred, 0); served || err != nil {
		return page, err
	}
	return s.readList(ctx, read, 0, pred)
}
