package storagetest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

func at(rev int64) string { return strconv.FormatInt(rev, 10) }

// testWatchFromResourceVersion replays history after a revision, then
// follows changes, in revision order.
func testWatchFromResourceVersion(h *harness) {
	t := h.t
	start := h.currentRevision()
	a := h.create(newPod("ns", "a"))
	w := h.watch(h.nsKey("ns"), storage.WatchOptions{ResourceVersion: at(start), Recursive: true})
	h.create(newPod("other", "x"))
	b := h.create(newPod("ns", "b"))
	a2 := h.update("ns", "a", "v", "2")
	gone := h.remove("ns", "a")

	h.expect(w, watch.Added, "a", rv(t, a))
	h.expect(w, watch.Added, "b", rv(t, b))
	h.expect(w, watch.Modified, "a", rv(t, a2))
	deleted := h.expect(w, watch.Deleted, "a", rv(t, gone))
	if deleted.Labels["v"] != "2" {
		t.Fatalf("DELETED carries labels %v, want the last state", deleted.Labels)
	}
	h.expectNone(w, 200*time.Millisecond)
}

// testWatchPredicate checks the transitions through a predicate: entering
// is ADDED, leaving is DELETED (the last matching state at the revision
// of the change), and changes outside it are not sent.
func testWatchPredicate(h *harness) {
	t := h.t
	w := h.watch(h.nsKey("ns"), storage.WatchOptions{ResourceVersion: at(h.currentRevision()),
		Predicate: appIs("web"), Recursive: true})
	x := h.create(newPod("ns", "x", "app", "web"))
	h.create(newPod("ns", "y", "app", "db"))
	left := h.update("ns", "x", "app", "db")
	back := h.update("ns", "x", "app", "web")
	changed := h.update("ns", "x", "tier", "front")
	h.remove("ns", "y")
	gone := h.remove("ns", "x")

	h.expect(w, watch.Added, "x", rv(t, x))
	leaving := h.expect(w, watch.Deleted, "x", rv(t, left))
	if leaving.Labels["app"] != "web" {
		t.Fatalf("DELETED on leaving the predicate carries app=%s, want the last matching state", leaving.Labels["app"])
	}
	h.expect(w, watch.Added, "x", rv(t, back))
	h.expect(w, watch.Modified, "x", rv(t, changed))
	h.expect(w, watch.Deleted, "x", rv(t, gone))
	h.expectNone(w, 200*time.Millisecond)
}

func testWatchSingleKey(h *harness) {
	t := h.t
	h.create(newPod("ns", "a"))
	h.create(newPod("ns", "a1"))
	w := h.watch(h.key("ns", "a"), storage.WatchOptions{ResourceVersion: at(h.currentRevision())})
	h.update("ns", "a1", "v", "1")
	a := h.update("ns", "a", "v", "1")
	h.expect(w, watch.Modified, "a", rv(t, a))
	h.expectNone(w, 200*time.Millisecond)
}

// testWatchCompacted resumes from a compacted revision: one ERROR event
// with a 410 Expired status, then the channel closes.
func testWatchCompacted(h *harness) {
	t := h.t
	a := h.create(newPod("ns", "a"))
	h.update("ns", "a", "v", "1")
	h.update("ns", "a", "v", "2")
	h.compact(h.currentRevision())

	w := h.watch(h.nsKey("ns"), storage.WatchOptions{ResourceVersion: a.ResourceVersion, Recursive: true})
	ev := h.next(w, true)
	status, ok := ev.Object.(*metav1.Status)
	if ev.Type != watch.Error || !ok {
		t.Fatalf("got %s %T, want an ERROR with a Status", ev.Type, ev.Object)
	}
	if status.Code != http.StatusGone || status.Reason != metav1.StatusReasonExpired {
		t.Fatalf("status %d %s %q, want 410 Expired", status.Code, status.Reason, status.Message)
	}
	select {
	case ev, open := <-w.ResultChan():
		if open {
			t.Fatalf("event %s after the ERROR, want the channel closed", ev.Type)
		}
	case <-time.After(watchTimeout):
		t.Fatalf("channel still open after the ERROR")
	}
}

// testWatchResourceVersionZero starts "" and "0" watches with the current
// state as ADDED events.
func testWatchResourceVersionZero(h *harness) {
	t := h.t
	a := h.create(newPod("ns", "a"))
	b := h.create(newPod("ns", "b"))
	for i, v := range []string{"0", ""} {
		w := h.watch(h.nsKey("ns"), storage.WatchOptions{ResourceVersion: v, Recursive: true})
		h.expect(w, watch.Added, "a", rv(t, a))
		h.expect(w, watch.Added, "b", rv(t, b))
		a = h.update("ns", "a", "round", strconv.Itoa(i))
		h.expect(w, watch.Modified, "a", rv(t, a))
	}
}

// testWatchChangesOnly: SendInitialEvents=false without a resourceVersion
// sends only changes from now on.
func testWatchChangesOnly(h *harness) {
	t := h.t
	h.create(newPod("ns", "a"))
	no := false
	w := h.watch(h.nsKey("ns"), storage.WatchOptions{SendInitialEvents: &no, Recursive: true})
	changed := h.update("ns", "a", "v", "1")
	h.expect(w, watch.Modified, "a", rv(t, changed))
}

// testWatchInitialEvents is the WatchList protocol: the state as ADDED,
// a bookmark annotated as the end of initial events, then changes.
func testWatchInitialEvents(h *harness) {
	t := h.t
	a := h.create(newPod("ns", "a"))
	b := h.create(newPod("ns", "b"))
	yes := true
	for _, v := range []string{"", a.ResourceVersion} {
		w := h.watch(h.nsKey("ns"), storage.WatchOptions{ResourceVersion: v, SendInitialEvents: &yes,
			AllowBookmarks: true, Recursive: true})
		h.expect(w, watch.Added, "a", 0)
		h.expect(w, watch.Added, "b", 0)
		ev := h.next(w, true)
		pod, ok := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Bookmark || !ok {
			t.Fatalf("got %s %T after the initial events, want a BOOKMARK", ev.Type, ev.Object)
		}
		if pod.Annotations[storage.InitialEventsEndAnnotation] != "true" || rv(t, pod) < rv(t, b) {
			t.Fatalf("bookmark annotations %v at %s, want %s=true at >= %s",
				pod.Annotations, pod.ResourceVersion, storage.InitialEventsEndAnnotation, b.ResourceVersion)
		}
		changed := h.update("ns", "a", "round", v)
		h.expect(w, watch.Modified, "a", rv(t, changed))
	}
}

// testWatchBookmarks expects periodic bookmarks that advance past writes
// the watch does not see.
func testWatchBookmarks(h *harness) {
	t := h.t
	w := h.watch(h.nsKey("quiet"), storage.WatchOptions{ResourceVersion: at(h.currentRevision()),
		AllowBookmarks: true, Recursive: true})
	elsewhere := rv(t, h.create(newPod("busy", "x")))
	deadline := time.Now().Add(watchTimeout)
	for {
		ev := h.next(w, true)
		pod, ok := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Bookmark || !ok {
			t.Fatalf("got %s %T, want only bookmarks", ev.Type, ev.Object)
		}
		if pod.Name != "" || len(pod.Annotations) != 0 {
			t.Fatalf("bookmark object %s with annotations %v, want an empty object", pod.Name, pod.Annotations)
		}
		if rv(t, pod) >= elsewhere {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bookmarks stay at %s, never reach the write at %d", pod.ResourceVersion, elsewhere)
		}
	}
}

func testWatchTooLarge(h *harness) {
	_, err := h.s.Watch(h.ctx, h.nsKey("ns"), storage.WatchOptions{ResourceVersion: at(h.currentRevision() + 1000), Recursive: true})
	wantErr(h.t, "watch from a future revision", err, storage.ErrTooLargeResourceVersion)
}

// testWatchStopUnread fills a watch's buffer without reading it: Stop must
// still return.
func testWatchStopUnread(h *harness) {
	h.create(newPod("ns", "a"))
	w, err := h.s.Watch(h.ctx, h.nsKey("ns"), storage.WatchOptions{ResourceVersion: at(h.currentRevision()), Recursive: true})
	if err != nil {
		h.t.Fatal(err)
	}
	for i := range 150 {
		h.update("ns", "a", "n", strconv.Itoa(i))
	}
	stopped := make(chan struct{})
	go func() {
		w.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(watchTimeout):
		h.t.Fatalf("Stop blocked on an unread watch")
	}
	drainClosed(h, w)
}

// testWatchContextCancel ends a watch through its context.
func testWatchContextCancel(h *harness) {
	ctx, cancel := context.WithCancel(h.ctx)
	w, err := h.s.Watch(ctx, h.nsKey("ns"), storage.WatchOptions{Recursive: true})
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	defer w.Stop()
	h.create(newPod("ns", "a"))
	cancel()
	drainClosed(h, w)
}

// drainClosed reads w until its channel closes.
func drainClosed(h *harness, w watch.Interface) {
	h.t.Helper()
	timeout := time.After(watchTimeout)
	for {
		select {
		case _, open := <-w.ResultChan():
			if !open {
				return
			}
		case <-timeout:
			h.t.Fatalf("watch channel not closed")
		}
	}
}

// testTTL: an object with a TTL disappears after it, others stay.
func testTTL(h *harness) {
	t := h.t
	if testing.Short() {
		t.Skip("waits for a lease to expire")
	}
	short := newPod("ns", "short")
	short.Annotations = map[string]string{TTLAnnotation: "2"}
	h.create(short)
	h.create(newPod("ns", "long"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := h.s.Get(h.ctx, h.key("ns", "short"), storage.GetOptions{}, &corev1.Pod{})
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("object with a 2s TTL still there after 20s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := h.s.Get(h.ctx, h.key("ns", "long"), storage.GetOptions{}, &corev1.Pod{}); err != nil {
		t.Fatalf("object without TTL: %v", err)
	}
}
