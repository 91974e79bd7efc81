package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// The shared watch is the watch half of a watch cache: one etcd watch per
// store, on the store's KeyPrefix, whose events are decoded once into a
// bounded buffer of recent events and fanned out to every client watcher
// through the watcher's own filter and its own bounded channel.
//
// It starts with the first watcher (at that watcher's revision) and then
// runs as long as the store's etcd client; when etcd ends its watch it
// resumes from the last revision it saw, so watchers do not notice. A
// watcher starting at a revision R is served from the buffer when the
// buffer holds every event after R (R is at least startRev) and etcd has
// not compacted R; otherwise it watches etcd directly, which replays R
// exactly or answers 410. The buffer keeps the last DefaultWatchCacheSize
// events (StoreConfig.WatchCacheSize), and none older than
// watchCacheWindow, so an idle store gives its memory back.
//
// A watcher whose channel stays full while others wait is closed (see
// dispatch); its client resumes from the last revision it got, which the
// buffer then serves.
//
// Before it follows etcd, the shared watch lists the prefix at its
// starting revision into the state (watch_cache_state.go), which its
// events then keep current, and lists and watches' initial states are
// served from that (list_cache.go); with a WatchIndex the state keeps its
// objects by index value too, so a kubelet's list or initial state reads
// its node's pods alone. After a compaction cost it events it
// lists the state again. Updates start from the state's object too
// (update.go), as upstream's cacher does: a stale one fails the
// transaction's compare and costs a retry, never a lost write.
//
// Each shared watch runs on a gRPC watch stream of its own and asks etcd
// for progress there (streamContext): etcd answers a progress request only
// when every watch on the stream has caught up.

// DefaultWatchCacheSize is how many events the shared watch of a store
// keeps at most for watchers that resume from a recent revision:
// upstream's upper bound (100×1024). The window below bounds it in time;
// at a few hundred pod events a second (a 2,000-node density run) the
// 10,000 this used to be held half a minute, less than the minute
// between bookmarks, and every kubelet that re-watched fell back to a
// watch of its own on etcd.
const DefaultWatchCacheSize = 100 * 1024

// watchCacheWindow is how long an event stays in the buffer at most.
// Clients resume within seconds of a watch ending; older revisions are
// served by etcd directly until they are compacted.
const watchCacheWindow = 2 * time.Minute

// watchCache is a store's shared watch.
type watchCache struct {
	s      *store
	intern *interner // shares equal pieces among the objects held
	prefix string
	window time.Duration

	mu       sync.Mutex
	started  bool
	ring     eventRing // every event in (startRev, headRev]
	startRev int64
	headRev  int64 // the newest revision seen (events and progress)
	// latest is each key's newest buffered event, to find an event's
	// previous state in the buffer instead of decoding it again, while
	// the state is not ready (once it is, the state has every key's).
	latest map[string]*cachedEvent
	subs   *fanout // joined under mu (see subscribe); left under its own lock
	// index is the store's WatchIndex, nil if it has none.
	index func(runtime.Object) string

	// dispatched: every event up to this revision has been offered to
	// every subscription. A watcher with nothing queued is caught up to
	// it, which is what its bookmarks say.
	dispatched atomic.Int64

	budget timeBudget // dispatch's patience with full channels

	// The state (watch_cache_state.go): ready once listed, and then at
	// headRev. changed is closed and replaced whenever headRev or ready
	// changes. snapshots are kept for paged lists' continue tokens.
	state     cacheState
	ready     bool
	changed   chan struct{}
	snapshots map[int64]*cacheSnapshot

	progressMu   sync.Mutex
	lastProgress time.Time
}

func newWatchCache(s *store, cfg StoreConfig) *watchCache {
	prefix, size := cfg.KeyPrefix, cfg.WatchCacheSize
	if size <= 0 {
		size = DefaultWatchCacheSize
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &watchCache{
		s:      s,
		intern: newInterner(),
		prefix: prefix,
		window: watchCacheWindow,
		ring:   newEventRing(size),
		latest: map[string]*cachedEvent{},
		subs:   &fanout{},
		index:  cfg.WatchIndex,
		budget: newTimeBudget(),

		changed:   make(chan struct{}),
		snapshots: map[int64]*cacheSnapshot{},
	}
}

// subscription is one watcher's place in the shared watch's fan-out.
type subscription struct {
	filter watchFilter
	// indexed: the filter matches only objects whose index value is
	// indexValue (see fanout).
	indexed    bool
	indexValue string
	// input is written only by the dispatch goroutine, which closes it
	// when it drops the subscription.
	input chan cacheItem
	done  <-chan struct{} // the watcher has ended
	cut   bool            // dropped; only dispatch reads and writes it

	// from is the cache's head revision when the subscription joined:
	// it replays the buffer up to there, and dispatch offers it the
	// events after it.
	from int64
	// The subscription's place in the fanout, under the fanout's lock:
	// member while in it, at index allAt of all and groupAt of
	// unindexed or of its index value's slice.
	member         bool
	allAt, groupAt int
}

// cacheItem is one event for one watcher, or the error that ends it.
type cacheItem struct {
	event watch.Event
	rev   int64
	err   error
}

// head is the newest revision the shared watch has seen, 0 before it runs.
func (c *watchCache) head() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headRev
}

// subscribe adds a watcher that wants the events after f.after and
// returns the buffered ones it must replay first. It returns nil when the
// buffer no longer holds all of them (or the client is closed). The first subscription starts the
// shared watch at its revision.
func (c *watchCache) subscribe(f watchFilter, indexValue *string, done <-chan struct{}) (*subscription, []*cachedEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.client.Ctx().Err() != nil {
		return nil, nil // closed: run has ended, and etcd reports why
	}
	c.startLocked(f.after)
	if f.after < c.startRev {
		return nil, nil
	}
	sub := &subscription{filter: f, input: make(chan cacheItem, watchBuffer), done: done, from: c.headRev}
	if indexValue != nil && c.index != nil {
		sub.indexed, sub.indexValue = true, *indexValue
	}
	c.subs.add(sub)
	return sub, c.ring.after(f.after)
}

// startLocked starts the shared watch at rev unless it runs already. It
// first lists the state at rev, then follows etcd from there.
func (c *watchCache) startLocked(rev int64) {
	if c.started || c.s.client.Ctx().Err() != nil {
		return
	}
	c.started = true
	c.startRev, c.headRev = rev, rev
	c.dispatched.Store(rev)
	go c.run()
}

// unsubscribe removes sub; it may have been dropped already.
func (c *watchCache) unsubscribe(sub *subscription) {
	c.subs.remove(sub)
}

// compactedError: etcd no longer has the revision the shared watch needs.
type compactedError struct{ rev int64 }

func (e *compactedError) Error() string {
	return fmt.Sprintf("etcd history compacted to revision %d", e.rev)
}

// run keeps the shared etcd watch going until the client closes.
func (c *watchCache) run() {
	ctx := c.s.client.Ctx()
	delay := 100 * time.Millisecond
	for {
		began := time.Now()
		err := c.initIfNeeded(ctx)
		if err == nil {
			err = c.follow(ctx)
		}
		if ctx.Err() != nil {
			c.dropAll(0)
			return
		}
		var compacted *compactedError
		if errors.As(err, &compacted) {
			c.restartAt(compacted.rev)
		}
		c.s.log.Warn("shared watch ended; resuming", "prefix", c.prefix, "err", err)
		if time.Since(began) > time.Minute {
			delay = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			c.dropAll(0)
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// initIfNeeded lists the state unless it is ready.
func (c *watchCache) initIfNeeded(ctx context.Context) error {
	c.mu.Lock()
	ready := c.ready
	c.mu.Unlock()
	if ready {
		return nil
	}
	if err := c.initState(ctx); err != nil {
		return fmt.Errorf("listing the watch cache's state: %w", err)
	}
	return nil
}

// follow runs one etcd watch from the revision after the newest seen,
// until it fails.
func (c *watchCache) follow(ctx context.Context) error {
	c.mu.Lock()
	from := c.headRev + 1
	c.mu.Unlock()
	wctx, cancel := context.WithCancel(c.streamContext(ctx))
	defer cancel()
	wch := c.s.client.Watch(wctx, c.prefix, clientv3.WithPrefix(), clientv3.WithRev(from),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	// Ask for progress once per bookmark interval so bookmarks carry a
	// recent revision even when this prefix is quiet; it also ages the
	// buffer.
	ticker := time.NewTicker(c.s.bookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case resp, ok := <-wch:
			if !ok {
				return errors.New("etcd closed the watch")
			}
			if resp.CompactRevision != 0 {
				return &compactedError{rev: resp.CompactRevision}
			}
			if err := resp.Err(); err != nil {
				return err
			}
			if resp.IsProgressNotify() {
				c.progress(resp.Header.Revision)
				continue
			}
			if len(resp.Events) > 0 {
				c.dispatch(c.append(resp.Events))
			}
		case <-ticker.C:
			c.requestProgress()
			c.mu.Lock()
			c.expireLocked(time.Now())
			c.expireSnapshotsLocked(time.Now())
			c.mu.Unlock()
		}
	}
}

// streamContext gives the shared watch a gRPC watch stream of its own.
// etcd answers a progress request on a stream only when every watch on
// it has caught up, so the shared watch must not share a stream with the
// watches etcd serves directly (resuming from old revisions, they are
// often behind) or with other resources' shared watches: on a stream of
// their own, progress requests for an idle prefix are answered.
func (c *watchCache) streamContext(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(clientv3.WithRequireLeader(ctx), "skiff-watch-cache", c.prefix)
}

// progress records that etcd has sent every event up to rev.
func (c *watchCache) progress(rev int64) {
	c.mu.Lock()
	if rev > c.headRev {
		c.headRev = rev
		c.notifyLocked()
	}
	c.mu.Unlock()
	if rev > c.dispatched.Load() {
		c.dispatched.Store(rev)
	}
}

// restartAt empties the buffer after etcd compacted the history the
// shared watch still needed: it continues from the oldest revision etcd
// has, and drops every watcher, with 410 for those that wanted events
// before it.
func (c *watchCache) restartAt(compacted int64) {
	c.mu.Lock()
	c.ring.clear()
	clear(c.latest)
	c.startRev, c.headRev = compacted-1, compacted-1
	c.invalidateLocked()
	c.mu.Unlock()
	c.dispatched.Store(max(c.dispatched.Load(), compacted-1))
	c.dropAll(compacted)
}

// dropAll ends every subscription. With compacted > 0, those that wanted
// events before it get a 410 ERROR first.
func (c *watchCache) dropAll(compacted int64) {
	for _, sub := range c.subs.takeAll() {
		if compacted > 0 && sub.filter.after+1 < compacted {
			select {
			case sub.input <- cacheItem{event: expiredEvent(sub.filter.after, compacted)}:
			default:
			}
		}
		c.cut(sub)
	}
}

// cut closes sub's channel: its watcher ends after what it has queued.
func (c *watchCache) cut(sub *subscription) {
	if sub.cut {
		return
	}
	sub.cut = true
	close(sub.input)
}
