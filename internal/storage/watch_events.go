package storage

import (
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// convert turns one etcd event into a watch event, applying the predicate
// to the states before and after: an object that starts to match is ADDED,
// one that stops matching is DELETED (its last matching state, with the
// revision of the change), and changes outside the predicate are skipped.
// A delete carries the deleted state with the deletion revision. ok is
// false when the event is skipped.
func (w *watcher) convert(ev *clientv3.Event) (event watch.Event, ok bool, err error) {
	rev := ev.Kv.ModRevision
	var cur, prev runtime.Object
	if ev.Type != clientv3.EventTypeDelete {
		if cur, err = w.s.decodeNew(ev.Kv.Value, rev); err != nil {
			return event, false, fmt.Errorf("%s: %w", ev.Kv.Key, err)
		}
	}
	// The previous state matters for a delete, or to apply a predicate to
	// both sides of a change; it is reported at the revision of the event.
	if ev.PrevKv != nil && !ev.IsCreate() && (ev.Type == clientv3.EventTypeDelete || w.pred != nil) {
		if prev, err = w.s.decodeNew(ev.PrevKv.Value, rev); err != nil {
			return event, false, fmt.Errorf("%s: %w", ev.Kv.Key, err)
		}
	}
	curOK, err := w.matches(cur)
	if err != nil {
		return event, false, err
	}
	prevOK, err := w.matches(prev)
	if err != nil {
		return event, false, err
	}
	switch {
	case ev.Type == clientv3.EventTypeDelete:
		// Without the previous value (compacted away) there is nothing to
		// report the deletion with.
		return watch.Event{Type: watch.Deleted, Object: prev}, prev != nil && prevOK, nil
	case ev.IsCreate() || prev == nil:
		// Without a predicate, or with the previous value compacted away,
		// a change is judged by its new state alone.
		if ev.IsCreate() {
			return watch.Event{Type: watch.Added, Object: cur}, curOK, nil
		}
		return watch.Event{Type: watch.Modified, Object: cur}, curOK, nil
	case curOK && prevOK:
		return watch.Event{Type: watch.Modified, Object: cur}, true, nil
	case curOK:
		return watch.Event{Type: watch.Added, Object: cur}, true, nil
	case prevOK:
		return watch.Event{Type: watch.Deleted, Object: prev}, true, nil
	}
	return event, false, nil
}

// matches applies the watch's predicate; a nil object never matches.
func (w *watcher) matches(obj runtime.Object) (bool, error) {
	if obj == nil {
		return false, nil
	}
	return matches(w.pred, obj)
}

// sendExpired reports that the revision the watch resumes from has been
// compacted: 410 Expired, the answer that makes clients re-list.
func (w *watcher) sendExpired(requested, compacted int64) {
	status := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", requested, compacted)).ErrStatus
	w.send(watch.Event{Type: watch.Error, Object: &status})
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
		status = apierrors.NewTimeoutError(err.Error(), 1)
	default:
		status = apierrors.NewInternalError(err)
	}
	w.s.log.Warn("watch ended with an error", "key", w.key, "err", err)
	st := status.ErrStatus
	w.send(watch.Event{Type: watch.Error, Object: &st})
}
