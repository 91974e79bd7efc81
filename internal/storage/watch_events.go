package storage

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// cachedEvent is one etcd event decoded once. The shared watch buffers it
// and every watcher filters it (watchFilter.convert); a direct etcd watch
// makes one per event too, so both paths apply the same rules. Its objects
// are shared by every watcher that receives them: nobody may modify them.
type cachedEvent struct {
	s       *store
	key     string
	rev     int64
	created bool // a put of a key that did not exist before
	deleted bool
	cur     runtime.Object // the new state; nil for a delete
	err     error          // decoding the new state failed
	at      time.Time      // when the shared watch buffered it

	// The previous state is decoded only if some watcher needs it: for a
	// delete, or to apply a predicate to both sides of a change. The
	// shared watch sets prevSrc when the buffer holds that state already
	// (the new state of the key's previous event), which saves the decode.
	prevRev  int64
	prevData []byte
	prevSrc  runtime.Object

	prevOnce sync.Once
	prev     runtime.Object
	prevErr  error
	lastOnce sync.Once
	last     runtime.Object
	lastErr  error

	// The store's WatchIndex values of the new and previous states,
	// computed once for every watcher (see indexValues).
	idxOnce         sync.Once
	idxCur, idxPrev string
	hasCur, hasPrev bool
	idxErr          error
}

// indexValues returns index's values of e's new state and of its
// previous one (has* false where there is no such state), computed once
// however many watchers ask. err is set when a state could not be
// decoded; the caller then offers e to every watcher, whose convert
// reports the error.
func (e *cachedEvent) indexValues(index func(runtime.Object) string) (cur, prev string, hasCur, hasPrev bool, err error) {
	e.idxOnce.Do(func() {
		if e.err != nil {
			e.idxErr = e.err
			return
		}
		if e.cur != nil {
			e.idxCur, e.hasCur = index(e.cur), true
		}
		if !e.created {
			p, perr := e.previous()
			if perr != nil {
				e.idxErr = perr
				return
			}
			if p != nil {
				e.idxPrev, e.hasPrev = index(p), true
			}
		}
	})
	return e.idxCur, e.idxPrev, e.hasCur, e.hasPrev, e.idxErr
}

// mayMatchIndex reports whether e can concern a watcher that promised to
// match only objects whose index value is value: false only when neither
// state of e has that value.
func (e *cachedEvent) mayMatchIndex(index func(runtime.Object) string, value string) bool {
	cur, prev, hasCur, hasPrev, err := e.indexValues(index)
	return err != nil || hasCur && cur == value || hasPrev && prev == value
}

// newCachedEvent decodes ev's new state, compacted by in when the event is
// for a watch cache (nil otherwise); the previous one waits until asked.
func newCachedEvent(s *store, in *interner, ev *clientv3.Event) *cachedEvent {
	e := &cachedEvent{
		s:       s,
		key:     string(ev.Kv.Key),
		rev:     ev.Kv.ModRevision,
		created: ev.IsCreate(),
		deleted: ev.Type == clientv3.EventTypeDelete,
	}
	if !e.deleted {
		if e.cur, e.err = s.decodeNew(ev.Kv.Value, e.rev); e.err != nil {
			e.err = fmt.Errorf("%s: %w", e.key, e.err)
		} else {
			in.compact(e.cur)
		}
	}
	if ev.PrevKv != nil && !e.created {
		e.prevRev, e.prevData = ev.PrevKv.ModRevision, ev.PrevKv.Value
	}
	return e
}

// previous is the state before the event, nil when etcd did not send it
// (compacted away). Its resourceVersion is only good for predicates.
func (e *cachedEvent) previous() (runtime.Object, error) {
	e.prevOnce.Do(func() {
		switch {
		case e.prevSrc != nil:
			e.prev = e.prevSrc
		case e.prevData != nil:
			if e.prev, e.prevErr = e.s.decodeNew(e.prevData, e.rev); e.prevErr != nil {
				e.prevErr = fmt.Errorf("%s: %w", e.key, e.prevErr)
			}
		}
		e.prevData = nil
	})
	return e.prev, e.prevErr
}

// lastState is the state before the event at the event's revision: what
// DELETED carries, for a delete or for leaving a predicate.
func (e *cachedEvent) lastState() (runtime.Object, error) {
	e.lastOnce.Do(func() {
		prev, err := e.previous()
		if err != nil || prev == nil || prev != e.prevSrc {
			// Decoded from etcd's previous value: already at e.rev.
			e.last, e.lastErr = prev, err
			return
		}
		// The buffer's object carries its own revision and is shared.
		last := prev.DeepCopyObject()
		e.last, e.lastErr = last, setResourceVersion(last, e.rev)
	})
	return e.last, e.lastErr
}

// watchFilter is what one watcher wants: the keys, the predicate, and only
// events after a revision.
type watchFilter struct {
	key       string // a prefix ending in "/" when recursive, else one key
	recursive bool
	pred      Predicate
	after     int64
}

// covers reports whether key is one of the filter's keys.
func (f *watchFilter) covers(key string) bool {
	if f.recursive {
		return strings.HasPrefix(key, f.key)
	}
	return key == f.key
}

// convert turns an event into the watcher's watch event, applying the
// predicate to the states before and after: an object that starts to match
// is ADDED, one that stops matching is DELETED (its last matching state,
// with the revision of the change), and changes outside the predicate are
// skipped. A delete carries the deleted state with the deletion revision.
// ok is false when the event is skipped.
func (f *watchFilter) convert(e *cachedEvent) (event watch.Event, ok bool, err error) {
	if e.rev <= f.after || !f.covers(e.key) {
		return event, false, nil
	}
	if e.err != nil {
		return event, false, e.err
	}
	var prev runtime.Object
	if !e.created && (e.deleted || f.pred != nil) {
		if prev, err = e.previous(); err != nil {
			return event, false, err
		}
	}
	curOK, err := f.matches(e.cur)
	if err != nil {
		return event, false, err
	}
	prevOK, err := f.matches(prev)
	if err != nil {
		return event, false, err
	}
	switch {
	case e.deleted:
		// Without the previous value (compacted away) there is nothing to
		// report the deletion with.
		if prev == nil || !prevOK {
			return event, false, nil
		}
		return f.deletedEvent(e)
	case e.created || prev == nil:
		// Without a predicate, or with the previous value compacted away,
		// a change is judged by its new state alone.
		if e.created {
			return watch.Event{Type: watch.Added, Object: e.cur}, curOK, nil
		}
		return watch.Event{Type: watch.Modified, Object: e.cur}, curOK, nil
	case curOK && prevOK:
		return watch.Event{Type: watch.Modified, Object: e.cur}, true, nil
	case curOK:
		return watch.Event{Type: watch.Added, Object: e.cur}, true, nil
	case prevOK:
		return f.deletedEvent(e)
	}
	return event, false, nil
}

func (f *watchFilter) deletedEvent(e *cachedEvent) (watch.Event, bool, error) {
	last, err := e.lastState()
	if err != nil {
		return watch.Event{}, false, err
	}
	return watch.Event{Type: watch.Deleted, Object: last}, true, nil
}

// matches applies the watch's predicate; a nil object never matches.
func (f *watchFilter) matches(obj runtime.Object) (bool, error) {
	if obj == nil {
		return false, nil
	}
	return matches(f.pred, obj)
}

// expiredEvent is the 410 Expired ERROR event for a watch whose starting
// revision has been compacted: the answer that makes clients re-list.
func expiredEvent(requested, compacted int64) watch.Event {
	status := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", requested, compacted)).ErrStatus
	return watch.Event{Type: watch.Error, Object: &status}
}

// sendExpired reports that the revision the watch resumes from has been
// compacted.
func (w *watcher) sendExpired(requested, compacted int64) {
	w.send(expiredEvent(requested, compacted))
}

// sendError reports err as an ERROR event with a metav1.Status; the watch
// ends after it.
func (w *watcher) sendError(err error) {
	if w.ctx.Err() != nil {
		return
	}
	var status *apierrors.StatusError
	switch {
	case errors.Is(err, ErrExpired):
		status = apierrors.NewResourceExpired(err.Error())
	case errors.Is(err, ErrTooLargeResourceVersion):
		status = TooLargeResourceVersionStatus(err.Error())
	default:
		status = apierrors.NewInternalError(err)
	}
	w.s.log.Warn("watch ended with an error", "key", w.filter.key, "err", err)
	st := status.ErrStatus
	w.send(watch.Event{Type: watch.Error, Object: &st})
}
