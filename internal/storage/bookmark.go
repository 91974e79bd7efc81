package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"
)

// Bookmarks tell a watcher how far it is caught up when its keys are quiet,
// so it can resume from a recent revision instead of one that may be
// compacted. A watcher learns the newest such revision from etcd progress
// notifications, which it asks for once per bookmark interval.

// sendBookmark sends a BOOKMARK: an empty object carrying only rev, and for
// the end of initial events, the InitialEventsEndAnnotation.
func (w *watcher) sendBookmark(rev int64, initialEventsEnd bool) bool {
	if rev <= 0 {
		return true
	}
	obj := w.s.newFunc()
	accessor, err := meta.Accessor(obj)
	if err != nil {
		w.sendError(fmt.Errorf("%w: %v", ErrInvalidObject, err))
		return false
	}
	if initialEventsEnd {
		accessor.SetAnnotations(map[string]string{InitialEventsEndAnnotation: "true"})
	}
	if err := setResourceVersion(obj, rev); err != nil {
		w.sendError(err)
		return false
	}
	return w.send(watch.Event{Type: watch.Bookmark, Object: obj})
}

// progressRequester asks etcd for progress notifications on behalf of a
// store's watchers. etcd answers a request on a gRPC watch stream to every
// watcher on it, so requests closer together than minGap are dropped.
type progressRequester struct {
	client *clientv3.Client
	minGap time.Duration

	mu   sync.Mutex
	last time.Time
}

func newProgressRequester(client *clientv3.Client, bookmarkInterval time.Duration) *progressRequester {
	return &progressRequester{client: client, minGap: bookmarkInterval / 10}
}

// request asks for a progress notification on the watch stream ctx's
// metadata selects (the same as the watches made with ctx).
func (p *progressRequester) request(ctx context.Context, log *slog.Logger) {
	p.mu.Lock()
	if time.Since(p.last) < p.minGap {
		p.mu.Unlock()
		return
	}
	p.last = time.Now()
	p.mu.Unlock()
	if err := p.client.RequestProgress(ctx); err != nil && ctx.Err() == nil {
		log.Debug("requesting watch progress", "err", err)
	}
}
