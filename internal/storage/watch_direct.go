package storage

import (
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A direct watch is one etcd watch for one watcher. It serves the watches
// the shared watch cannot: stores without a key prefix, and revisions
// older than the shared watch's buffer, which etcd replays exactly from its
// history (or answers with 410 once that is compacted).

// followEtcd relays a watch of its own from etcd, after rev.
func (w *watcher) followEtcd(rev int64) {
	opts := []clientv3.OpOption{clientv3.WithRev(rev + 1), clientv3.WithPrevKV(), clientv3.WithProgressNotify()}
	if w.filter.recursive {
		opts = append(opts, clientv3.WithPrefix())
	}
	w.stream(w.s.client.Watch(w.ctx, w.filter.key, opts...))
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
		event, ok, err := w.filter.convert(newCachedEvent(w.s, nil, ev))
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
