package storage

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/watch"
)

// Watch starts a watcher and returns once its starting revision is known.
// A ResourceVersion etcd has not reached yet is waited for briefly and then
// fails with ErrTooLargeResourceVersion; a compacted one is reported as an
// ERROR event (410 Expired) on the channel, as Kubernetes clients expect.
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
	if rev > 0 {
		// The state must be at least rev: wait for it or fail now.
		if _, err := s.waitForRevision(ctx, rev); err != nil {
			return nil, err
		}
	} else if !initialState {
		if rev, err = s.CurrentRevision(ctx); err != nil {
			return nil, err
		}
	}
	// Require a leader so a partitioned member ends the watch instead of
	// silently serving nothing.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	w := &watcher{
		s:              s,
		ctx:            wctx,
		cancel:         cancel,
		key:            key,
		recursive:      opts.Recursive,
		pred:           opts.Predicate,
		allowBookmarks: opts.AllowBookmarks,
		result:         make(chan watch.Event, watchBuffer),
		done:           make(chan struct{}),
	}
	go w.run(rev, initialState, sendInitial)
	return w, nil
}

// watcher turns one etcd watch into watch.Events. One goroutine (run)
// produces; every blocking step in it also waits on ctx, so Stop and the
// caller's ctx end it whether or not the consumer still reads.
type watcher struct {
	s              *store
	ctx            context.Context
	cancel         context.CancelFunc
	key            string
	recursive      bool
	pred           Predicate
	allowBookmarks bool
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
// after rev.
func (w *watcher) run(rev int64, initialState, sendInitial bool) {
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
	opts := []clientv3.OpOption{clientv3.WithRev(rev + 1), clientv3.WithPrevKV(), clientv3.WithProgressNotify()}
	if w.recursive {
		opts = append(opts, clientv3.WithPrefix())
	}
	w.stream(w.s.client.Watch(w.ctx, w.key, opts...))
}

// sendInitialState sends ADDED for every matching object at a consistent
// revision at least minRev and, for SendInitialEvents, the bookmark that
// ends them. It returns the revision the state was read at.
func (w *watcher) sendInitialState(minRev int64, sendInitial bool) (int64, bool) {
	read := listRead{start: w.key, end: w.key + "\x00"}
	if w.recursive {
		read.end = clientv3.GetPrefixRangeEnd(w.key)
	}
	page, err := w.s.readList(w.ctx, read, 0, w.pred)
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

// stream relays etcd's responses until the watch ends.
func (w *watcher) stream(wch clientv3.WatchChan) {
	var tick <-chan time.Time
	if w.allowBookmarks {
		ticker := time.NewTicker(w.s.bookmarkInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
	bookmarkDue := false
	for {
		select {
		case <-w.ctx.Done():
			return
		case resp, ok := <-wch:
			if !ok {
				if w.ctx.Err() == nil {
					w.sendError(errors.New("etcd closed the watch"))
				}
				return
			}
			if !w.handle(&resp) {
				return
			}
			if bookmarkDue && resp.IsProgressNotify() {
				if !w.sendBookmark(w.lastRev, false) {
					return
				}
				bookmarkDue = false
			}
		case <-tick:
			// A bookmark is due: ask etcd for a progress notification so it
			// carries the newest revision. If none came since the last tick
			// (etcd only answers when this stream is caught up), send what
			// this watcher has.
			if bookmarkDue && !w.sendBookmark(w.lastRev, false) {
				return
			}
			bookmarkDue = true
			w.s.progress.request(w.ctx, w.s.log)
		}
	}
}

// handle sends the events of one etcd response. It returns false when the
// watch has ended.
func (w *watcher) handle(resp *clientv3.WatchResponse) bool {
	if resp.CompactRevision != 0 {
		w.sendExpired(w.lastRev, resp.CompactRevision)
		return false
	}
	if err := resp.Err(); err != nil {
		if w.ctx.Err() == nil {
			w.sendError(err)
		}
		return false
	}
	if resp.IsProgressNotify() {
		w.lastRev = max(w.lastRev, resp.Header.Revision)
		return true
	}
	for _, ev := range resp.Events {
		event, ok, err := w.convert(ev)
		if err != nil {
			w.sendError(err)
			return false
		}
		w.lastRev = ev.Kv.ModRevision
		if ok && !w.send(event) {
			return false
		}
	}
	return true
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
