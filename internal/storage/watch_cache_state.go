package storage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/btree"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// The state is the other half of a watch cache: every object under the
// store's KeyPrefix as of the shared watch's newest revision (headRev),
// kept in key order so lists come out as etcd returns them. It is filled
// by one list from etcd at a revision and then kept up to date from the
// shared watch's events; the objects are the events' own, so a pod in
// both the buffer and the state is held once.
//
// The entries are in a B-tree, so that a change costs O(log n) however
// many objects there are, and a list takes a snapshot by cloning it: the
// clone shares every node, and each side copies a node only when it
// first changes it (copy on write), so a snapshot costs nothing until
// the state changes, and then a few nodes per change.

// stateEntry is one key's current object. Entries are never modified;
// a change replaces the entry.
type stateEntry struct {
	key   string
	obj   runtime.Object // decoded, resourceVersion set to rev; shared
	rev   int64          // the key's mod revision
	index string         // obj's index value, when the cache has an index
}

func entryLess(a, b *stateEntry) bool { return a.key < b.key }

// stateDegree is the B-tree's degree: nodes of 31 to 63 entries.
const stateDegree = 32

// cacheState is the ordered set of entries; the zero value is empty.
//
// A cache with an index (StoreConfig.WatchIndex: the pods' spec.nodeName)
// also keeps the entries by index value, each value's in a B-tree of its
// own, as upstream's watch cache keeps an indexer. A list or a watch's
// initial state that names an index value (a kubelet's pods) then reads
// the entries of that value alone: a kubelet's list at 150,000 pods
// reads its node's 30, not all 150,000 through its predicate, which
// 5,000 kubelets listing at once (after their watches broke) could not
// afford.
type cacheState struct {
	tree    *btree.BTreeG[*stateEntry]
	byIndex map[string]*btree.BTreeG[*stateEntry] // nil without an index
}

// indexDegree is the degree of the per-value B-trees: nodes of 7 to 15
// entries, as a node holds tens of pods.
const indexDegree = 8

func newCacheState(items []*stateEntry, indexed bool) cacheState {
	s := cacheState{tree: btree.NewG(stateDegree, entryLess)}
	if indexed {
		s.byIndex = map[string]*btree.BTreeG[*stateEntry]{}
	}
	for _, e := range items {
		s.put(e)
	}
	return s
}

// len is how many keys the state holds.
func (s *cacheState) len() int {
	if s.tree == nil {
		return 0
	}
	return s.tree.Len()
}

// get returns key's entry, nil if absent.
func (s *cacheState) get(key string) *stateEntry {
	if s.tree == nil {
		return nil
	}
	e, _ := s.tree.Get(&stateEntry{key: key})
	return e
}

// put sets key's entry.
func (s *cacheState) put(e *stateEntry) {
	if s.tree == nil {
		*s = newCacheState(nil, false)
	}
	old, replaced := s.tree.ReplaceOrInsert(e)
	if s.byIndex == nil {
		return
	}
	if replaced && old.index != e.index {
		s.unindex(old)
	}
	t := s.byIndex[e.index]
	if t == nil {
		t = btree.NewG(indexDegree, entryLess)
		s.byIndex[e.index] = t
	}
	t.ReplaceOrInsert(e)
}

// remove deletes key's entry if present.
func (s *cacheState) remove(key string) {
	if s.tree == nil {
		return
	}
	if old, ok := s.tree.Delete(&stateEntry{key: key}); ok && s.byIndex != nil {
		s.unindex(old)
	}
}

// unindex takes e out of its index value's tree, and the tree out of
// the index once empty.
func (s *cacheState) unindex(e *stateEntry) {
	if t := s.byIndex[e.index]; t != nil {
		if t.Delete(e); t.Len() == 0 {
			delete(s.byIndex, e.index)
		}
	}
}

// snapshot returns a copy of the entries that later changes leave alone.
func (s *cacheState) snapshot() stateSnapshot {
	if s.tree == nil {
		return stateSnapshot{}
	}
	return stateSnapshot{tree: s.tree.Clone()}
}

// indexSnapshot is snapshot for the entries whose index value is value;
// ok is false when the state has no index.
func (s *cacheState) indexSnapshot(value string) (snap stateSnapshot, ok bool) {
	if s.byIndex == nil {
		return stateSnapshot{}, false
	}
	if t := s.byIndex[value]; t != nil {
		snap.tree = t.Clone()
	}
	return snap, true
}

// stateSnapshot is the entries at one moment; read only.
type stateSnapshot struct {
	tree *btree.BTreeG[*stateEntry]
}

// ascend calls fn for the entries with keys in [start, end), in order,
// until fn returns false.
func (s stateSnapshot) ascend(start, end string, fn func(*stateEntry) bool) {
	if s.tree != nil {
		s.tree.AscendRange(&stateEntry{key: start}, &stateEntry{key: end}, fn)
	}
}

// applyLocked brings the state up to date with e, if the state is ready,
// and points e's previous state at the state's object when that is it.
func (c *watchCache) applyLocked(e *cachedEvent) {
	if !c.ready {
		return
	}
	if old := c.state.get(e.key); old != nil && e.prevSrc == nil && e.prevData != nil && old.rev == e.prevRev {
		e.prevSrc, e.prevData = old.obj, nil
	}
	switch {
	case e.deleted:
		c.state.remove(e.key)
	case e.err != nil:
		// An undecodable value cannot be served from memory: drop the
		// key (etcd lists report the error) and say so.
		c.state.remove(e.key)
		c.s.log.Warn("watch cache: dropping an undecodable object", "key", e.key, "err", e.err)
	default:
		entry := &stateEntry{key: e.key, obj: e.cur, rev: e.rev}
		if c.index != nil {
			// The dispatch asks the event for the same value (once).
			entry.index, _, _, _, _ = e.indexValues(c.index)
		}
		c.state.put(entry)
	}
	c.s.metrics.setObjects(c.state.len())
}

// initState fills the state from one list of the prefix at the revision
// the shared watch will continue from (its headRev), or, if etcd has
// compacted that, at the latest revision; the buffer then starts there
// and every watcher is dropped (they resume, and etcd serves or refuses
// the revisions in between). Only the run goroutine calls it.
func (c *watchCache) initState(ctx context.Context) error {
	c.mu.Lock()
	rev := c.headRev
	c.mu.Unlock()
	items, listRev, err := c.listAll(ctx, rev)
	if errors.Is(err, ErrExpired) || errors.Is(err, ErrTooLargeResourceVersion) {
		items, listRev, err = c.listAll(ctx, 0)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	jumped := listRev != c.headRev
	if jumped {
		c.ring.clear()
		clear(c.latest)
		c.startRev, c.headRev = listRev, listRev
	}
	c.state = newCacheState(items, c.index != nil)
	c.s.metrics.setObjects(c.state.len())
	c.ready = true
	clear(c.latest) // the state serves previous states now
	c.notifyLocked()
	c.mu.Unlock()
	if listRev > c.dispatched.Load() {
		c.dispatched.Store(listRev)
	}
	if jumped {
		c.dropAll(0)
	}
	return nil
}

// listAll reads every object under the prefix at rev (0: the latest).
func (c *watchCache) listAll(ctx context.Context, rev int64) ([]*stateEntry, int64, error) {
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(c.prefix))}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := c.s.read(ctx, opList, c.prefix, opts...)
	if err != nil {
		return nil, 0, translateError(err, rev)
	}
	items := make([]*stateEntry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		obj, err := c.s.decodeNew(kv.Value, kv.ModRevision)
		if err != nil {
			c.s.log.Warn("watch cache: skipping an undecodable object", "key", string(kv.Key), "err", err)
			continue
		}
		c.intern.compact(obj)
		entry := &stateEntry{key: string(kv.Key), obj: obj, rev: kv.ModRevision}
		if c.index != nil {
			entry.index = c.index(obj)
		}
		items = append(items, entry)
	}
	if rev == 0 {
		rev = resp.Header.Revision
	}
	return items, rev, nil
}

// invalidateLocked marks the state stale: after a compaction the shared
// watch has missed events, so the state is listed again.
func (c *watchCache) invalidateLocked() {
	c.ready = false
	c.state = cacheState{}
	clear(c.snapshots)
	c.notifyLocked()
}

// notifyLocked wakes everybody waiting for the cache to change.
func (c *watchCache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// cacheSnapshot is the state at one revision.
type cacheSnapshot struct {
	items stateSnapshot
	rev   int64
	taken time.Time
	// counts remembers how many entries key ranges of items hold, shared
	// by the copies of the snapshot a paged list's pages read.
	counts *rangeCounts
	// indexed, if set, is the entries of items of one index value (see
	// cacheState).
	indexed *indexedSnapshot
}

// indexedSnapshot is a snapshot's entries of one index value.
type indexedSnapshot struct {
	value   string
	entries stateSnapshot
}

// newCacheSnapshot is the state's snapshot now, at rev (c.mu held),
// with the entries of index value *index as well when index is set and
// the state has an index.
func (c *watchCache) newCacheSnapshot(rev int64, index *string) cacheSnapshot {
	snap := cacheSnapshot{items: c.state.snapshot(), rev: rev, taken: time.Now(), counts: &rangeCounts{}}
	if index != nil {
		if idx, ok := c.state.indexSnapshot(*index); ok {
			snap.indexed = &indexedSnapshot{value: *index, entries: idx}
		}
	}
	return snap
}

// entries is what a read for index value index (nil: any) walks: the
// snapshot's entries of that value if it has them, else all of them.
func (snap cacheSnapshot) entries(index *string) stateSnapshot {
	if index != nil && snap.indexed != nil && snap.indexed.value == *index {
		return snap.indexed.entries
	}
	return snap.items
}

// rangeCounts are the numbers of entries in [start, end) ranges of a
// snapshot. A paged list reports how many entries follow each page
// (remainingItemCount); counting them anew for every page costs a walk
// of the rest of the snapshot per page, a cache miss per entry, which for
// 150,000 pods in pages of 500 is over ten million. Each page instead
// records what follows it, for the next page to start from.
type rangeCounts struct {
	mu sync.Mutex
	n  map[[2]string]int64
}

func (r *rangeCounts) get(start, end string) (int64, bool) {
	if r == nil {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.n[[2]string{start, end}]
	return n, ok
}

// maxRangeCounts bounds the ranges one snapshot remembers.
const maxRangeCounts = 1024

func (r *rangeCounts) set(start, end string, n int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil || len(r.n) >= maxRangeCounts {
		r.n = map[[2]string]int64{}
	}
	r.n[[2]string{start, end}] = n
}

// Paged lists keep the snapshot their continue tokens name for the next
// pages, as long as watchCacheWindow and up to maxSnapshots of them.
const maxSnapshots = 16

// retainLocked keeps snap for the continue tokens of a paged list.
func (c *watchCache) retainLocked(snap cacheSnapshot) {
	if _, ok := c.snapshots[snap.rev]; ok {
		return
	}
	c.expireSnapshotsLocked(snap.taken)
	if len(c.snapshots) >= maxSnapshots {
		oldest := int64(-1)
		for rev := range c.snapshots {
			if oldest < 0 || rev < oldest {
				oldest = rev
			}
		}
		delete(c.snapshots, oldest)
	}
	c.snapshots[snap.rev] = &snap
}

// expireSnapshotsLocked forgets snapshots older than the window.
func (c *watchCache) expireSnapshotsLocked(now time.Time) {
	for rev, snap := range c.snapshots {
		if now.Sub(snap.taken) > c.window {
			delete(c.snapshots, rev)
		}
	}
}

// waitReady waits until the state is ready and at least at rev, for at
// most wait. While it waits it asks etcd for progress notifications if
// progress is set, so a quiet prefix's revision catches up. It returns
// the state's snapshot, or ok false when the wait ran out.
func (c *watchCache) waitReady(ctx context.Context, rev int64, wait time.Duration, progress bool, index *string) (cacheSnapshot, bool, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var tick <-chan time.Time
	for {
		c.mu.Lock()
		if c.ready && c.headRev >= rev {
			snap := c.newCacheSnapshot(c.headRev, index)
			c.mu.Unlock()
			return snap, true, nil
		}
		changed, ready := c.changed, c.ready
		c.mu.Unlock()
		if progress && ready && tick == nil {
			ticker := time.NewTicker(progressRequestGap)
			defer ticker.Stop()
			tick = ticker.C
			c.requestProgress()
		}
		select {
		case <-changed:
		case <-tick:
			c.requestProgress()
		case <-timer.C:
			return cacheSnapshot{}, false, nil
		case <-ctx.Done():
			return cacheSnapshot{}, false, ctx.Err()
		}
	}
}

// progressRequestGap spaces the progress requests of reads that wait
// for the cache.
const progressRequestGap = 50 * time.Millisecond

// requestProgress asks etcd for a progress notification on the shared
// watch's stream (the one its context's metadata selects), so headRev
// reaches etcd's revision even when nothing under the prefix changes.
func (c *watchCache) requestProgress() {
	ctx := c.streamContext(c.s.client.Ctx())
	c.progressMu.Lock()
	if time.Since(c.lastProgress) < progressRequestGap/2 {
		c.progressMu.Unlock()
		return
	}
	c.lastProgress = time.Now()
	c.progressMu.Unlock()
	if err := c.s.client.RequestProgress(ctx); err != nil && ctx.Err() == nil {
		c.s.log.Debug("watch cache: requesting progress", "err", err)
	}
}

// snapshotAt returns the retained snapshot at exactly rev (with what
// earlier pages counted), or else the state if it is at rev.
func (c *watchCache) snapshotAt(rev int64, index *string) (cacheSnapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap, ok := c.snapshots[rev]; ok && time.Since(snap.taken) <= c.window {
		return *snap, true
	}
	if c.ready && c.headRev == rev {
		return c.newCacheSnapshot(rev, index), true
	}
	return cacheSnapshot{}, false
}

// ensureStarted starts the shared watch, and with it the state, at rev
// if nothing has started it yet.
func (c *watchCache) ensureStarted(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startLocked(rev)
}
