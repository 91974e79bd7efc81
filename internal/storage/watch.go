package storage

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/watch"
)

// Watch starts a watcher and returns once its starting revision is known.
// A ResourceVersion etcd has not reached yet is waited for briefly and then
// fails with ErrTooLargeResourceVersion; a compacted one is reported as an
// ERROR event (410 Expired) on the channel, as Kubernetes clients expect.
//
// Under the store's KeyPrefix the watcher follows the store's shared watch
// (watch_cache.go); elsewhere, or from a revision older than the shared
// watch's buffer, it opens an etcd watch of its own (watch_direct.go).
func (s *store) Watch(ctx context.Context, key string, opts WatchOptions) (watch.Interface, error) {
	rev, err := parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	if opts.Recursive && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	sendInitial := opts.SendInitialEvents != nil && *opts.SendInitialEvents
	// Without SendInitialEvents, "" and "0" still start with the current
	// state; SendInitialEvents=false explicitly asks for changes only.
	initialState := sendInitial || (opts.SendInitialEvents == nil && rev == 0)
	cache := s.cacheFor(key)
	switch {
	case rev > 0 && cache != nil && rev <= cache.head():
		// The shared watch has seen rev, so etcd has reached it.
	case rev > 0:
		// The state must be at least rev: wait for it or fail now.
		if _, err := s.waitForRevision(ctx, rev); err != nil {
			return nil, err
		}
	case !initialState:
		if rev, err = s.CurrentRevision(ctx); err != nil {
			return nil, err
		}
	}
	// Require a leader so a partitioned member ends a direct watch instead
	// of silently serving nothing.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	w := &watcher{
		s:              s,
		ctx:            wctx,
		cancel:         cancel,
		filter:         watchFilter{key: key, recursive: opts.Recursive, pred: opts.Predicate},
		allowBookmarks: opts.AllowBookmarks,
		indexValue:     opts.IndexValue,
		result:         make(chan watch.Event, watchBuffer),
		done:           make(chan struct{}),
	}
	go w.run(cache, rev, initialState, sendInitial)
	return w, nil
}

// cacheFor is the shared watch that covers key, nil if none does.
func (s *store) cacheFor(key string) *watchCache {
	if s.cache == nil || !strings.HasPrefix(key, s.cache.prefix) {
		return nil
	}
	return s.cache
}

// watcher produces one client's events. One goroutine (run) produces;
// every blocking step in it also waits on ctx, so Stop and the caller's
// ctx end it whether or not the consumer still reads.
type watcher struct {
	s              *store
	ctx            context.Context
	cancel         context.CancelFunc
	filter         watchFilter
	allowBookmarks bool
	indexValue     *string // WatchOptions.IndexValue
	result         chan watch.Event
	done           chan struct{}
	stopOnce       sync.Once

	// lastRev is the newest revision whose events this watcher has all
	// delivered (from events and progress notifications); only run uses it.
	lastRev int64
}

var _ watch.Interface = (*watcher)(nil)

// ResultChan returns the events; it is closed when the watch ends.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// Stop ends the watch and waits for its goroutine to exit.
func (w *watcher) Stop() {
	w.stopOnce.Do(func() {
		w.cancel()
		<-w.done
	})
}

// run produces the events: the initial state if asked for, then changes
// after rev, from the shared watch when it can serve them.
func (w *watcher) run(cache *watchCache, rev int64, initialState, sendInitial bool) {
	defer close(w.done)
	defer close(w.result)
	defer w.cancel()
	if initialState {
		var ok bool
		if rev, ok = w.sendInitialState(rev, sendInitial); !ok {
			return
		}
	}
	w.lastRev = rev
	w.filter.after = rev
	// A revision the client named may be compacted already; etcd, not
	// the buffer, gives the exact answer then (410). A state just read
	// is not.
	if cache != nil && (initialState || w.s.retained(w.ctx, rev)) && w.followCache(cache) {
		return
	}
	w.followEtcd(rev)
}

// retained reports whether etcd still has the history after rev. Errors
// count as no: the direct watch then reports them.
func (s *store) retained(ctx context.Context, rev int64) bool {
	// A serializable count is a cheap local read; a revision after the
	// member's current one has nothing compacted after it.
	_, err := s.client.Get(ctx, revisionKey, clientv3.WithRev(rev+1), clientv3.WithCountOnly(), clientv3.WithSerializable())
	return err == nil || errors.Is(err, rpctypes.ErrFutureRev)
}

// sendInitialState sends ADDED for every matching object at a consistent
// revision at least minRev and, for SendInitialEvents, the bookmark that
// ends them. It returns the revision the state was read at.
func (w *watcher) sendInitialState(minRev int64, sendInitial bool) (int64, bool) {
	read := listRead{start: w.filter.key, end: w.filter.key + "\x00", index: w.indexValue}
	if w.filter.recursive {
		read.end = clientv3.GetPrefixRangeEnd(w.filter.key)
	}
	page, err := w.s.initialState(w.ctx, read, minRev, w.filter.pred)
	if err == nil && page.rev < minRev {
		// Only possible against a lagging member: Watch already waited.
		err = tooLargeError(minRev, page.rev)
	}
	if err != nil {
		w.sendError(err)
		return 0, false
	}
	for _, obj := range page.items {
		if !w.send(watch.Event{Type: watch.Added, Object: obj}) {
			return 0, false
		}
	}
	if sendInitial && !w.sendBookmark(page.rev, true) {
		return 0, false
	}
	return page.rev, true
}

// send delivers ev unless the watch ends first.
func (w *watcher) send(ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-w.ctx.Done():
		return false
	}
}
