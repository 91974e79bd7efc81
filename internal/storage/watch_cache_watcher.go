package storage

import (
	"time"

	"k8s.io/apimachinery/pkg/watch"
)

// followCache relays the shared watch's events after w.filter.after: the
// buffered ones first, then live ones. It returns false, having sent
// nothing, when the buffer no longer holds all of them.
func (w *watcher) followCache(c *watchCache) bool {
	sub, replay := c.subscribe(w.filter, w.indexValue, w.ctx.Done())
	if sub == nil {
		return false
	}
	defer c.unsubscribe(sub)
	for _, e := range replay {
		if sub.indexed && !e.mayMatchIndex(c.index, sub.indexValue) {
			w.lastRev = e.rev // not this watcher's: skip its predicate
			continue
		}
		ev, ok, err := w.filter.convert(e)
		if err != nil {
			w.sendError(err)
			return true
		}
		w.lastRev = e.rev
		if ok && !w.send(ev) {
			return true
		}
	}
	w.relay(c, sub)
	return true
}

// relay forwards sub's events, and a bookmark once per bookmark interval,
// until the watch ends or the shared watch drops it.
func (w *watcher) relay(c *watchCache, sub *subscription) {
	var tick <-chan time.Time
	if w.allowBookmarks {
		ticker := time.NewTicker(w.s.bookmarkInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-w.ctx.Done():
			return
		case item, ok := <-sub.input:
			switch {
			case !ok:
				return
			case item.err != nil:
				w.sendError(item.err)
				return
			}
			if item.rev > 0 {
				w.lastRev = item.rev
			}
			if !w.send(item.event) || item.event.Type == watch.Error {
				return
			}
		case <-tick:
			// With nothing queued, this watcher has everything the shared
			// watch has dispatched, matching or not. Read the revision
			// first: events dispatched before it are queued by then.
			rev := c.dispatched.Load()
			if len(sub.input) == 0 {
				w.lastRev = max(w.lastRev, rev)
			}
			if !w.sendBookmark(w.lastRev, false) {
				return
			}
		}
	}
}
