package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// TestStoreSharedWatch runs the storage suite against a store whose
// watches share one etcd watch (a KeyPrefix is set).
func TestStoreSharedWatch(t *testing.T) {
	storagetest.RunSuite(t, func(t *testing.T) (storage.Interface, string, func(int64)) {
		client, prefix := etcdtest.Start(t)
		compact := func(rev int64) {
			if err := storage.Compact(context.Background(), client, rev); err != nil {
				t.Fatalf("compact: %v", err)
			}
		}
		cfg := storagetest.StoreConfig()
		cfg.KeyPrefix = prefix + "/pods/"
		return storage.NewStore(client, cfg), prefix, compact
	})
}

// countingWatcher counts the etcd watches a store opens.
type countingWatcher struct {
	clientv3.Watcher
	n atomic.Int64
}

func (c *countingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	c.n.Add(1)
	return c.Watcher.Watch(ctx, key, opts...)
}

// sharedStore is a store with a shared watch of cacheSize events whose
// etcd watches are counted, and the key prefix of its pods.
type sharedStore struct {
	storage.Interface
	client  *clientv3.Client
	prefix  string // ends in "/pods/"
	watches *countingWatcher
}

func newSharedStore(t *testing.T, cacheSize int) *sharedStore {
	return newSharedStoreConfig(t, cacheSize, nil)
}

func newSharedStoreConfig(t *testing.T, cacheSize int, index func(runtime.Object) string) *sharedStore {
	client, prefix := etcdtest.Start(t)
	counter := &countingWatcher{Watcher: client.Watcher}
	client.Watcher = counter
	cfg := storagetest.StoreConfig()
	cfg.KeyPrefix = prefix + "/pods/"
	cfg.WatchCacheSize = cacheSize
	cfg.WatchIndex = index
	return &sharedStore{Interface: storage.NewStore(client, cfg), client: client, prefix: prefix + "/pods/", watches: counter}
}

func (s *sharedStore) key(name string) string { return s.prefix + "ns/" + name }

// create stores a pod on node and returns its resourceVersion.
func (s *sharedStore) create(t *testing.T, name, node string) string {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	out := &corev1.Pod{}
	if err := s.Create(context.Background(), s.key(name), pod, out); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return out.ResourceVersion
}

// relabel sets label k=v on pod name and returns the stored state.
func (s *sharedStore) relabel(t *testing.T, name, k, v string) *corev1.Pod {
	t.Helper()
	out := &corev1.Pod{}
	err := s.GuaranteedUpdate(context.Background(), s.key(name), out, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[k] = v
		return p, nil
	})
	if err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
	return out
}

func (s *sharedStore) revision(t *testing.T) string {
	t.Helper()
	rev, err := s.CurrentRevision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(rev, 10)
}

// watch starts a watch of all pods from rv, stopped with the test.
func (s *sharedStore) watch(t *testing.T, rv string, pred storage.Predicate) watch.Interface {
	t.Helper()
	w, err := s.Watch(context.Background(), s.prefix, storage.WatchOptions{ResourceVersion: rv, Predicate: pred, Recursive: true})
	if err != nil {
		t.Fatalf("watch from %s: %v", rv, err)
	}
	t.Cleanup(w.Stop)
	return w
}

func onNode(node string) storage.Predicate {
	return func(obj runtime.Object) (bool, error) { return obj.(*corev1.Pod).Spec.NodeName == node, nil }
}

// nextEvent returns w's next non-bookmark event, failing after a timeout;
// ok is false when the channel closed.
func nextEvent(t *testing.T, w watch.Interface) (watch.Event, bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if ok && ev.Type == watch.Bookmark {
				continue
			}
			return ev, ok
		case <-timeout:
			t.Fatalf("no watch event within 10s")
		}
	}
}

// expectNames reads len(want) events and checks their types and names.
func expectNames(t *testing.T, w watch.Interface, typ watch.EventType, want ...string) {
	t.Helper()
	for _, name := range want {
		ev, ok := nextEvent(t, w)
		if !ok {
			t.Fatalf("watch closed, want %s %s", typ, name)
		}
		pod, isPod := ev.Object.(*corev1.Pod)
		if ev.Type != typ || !isPod || pod.Name != name {
			t.Fatalf("got %s %T %v, want %s %s", ev.Type, ev.Object, ev.Object, typ, name)
		}
	}
}

// TestSharedWatchFansOut: 1,000 watchers, each selecting the pods of its
// own node, share one etcd watch; 1,000 pods, one per node, make exactly
// one delivery each; a pod that moves to another node leaves one watcher
// (DELETED) and enters another (ADDED). With the node index the shared
// watch asks only the two watchers concerned; without, every predicate.
func TestSharedWatchFansOut(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		t.Run(fmt.Sprintf("indexed=%v", indexed), func(t *testing.T) { testFanOut(t, indexed) })
	}
}

func testFanOut(t *testing.T, indexed bool) {
	const n = 1000
	nodeName := func(obj runtime.Object) string { return obj.(*corev1.Pod).Spec.NodeName }
	s := newSharedStoreConfig(t, 0, nodeName)
	rv := s.revision(t)
	ws := make([]watch.Interface, n)
	for i := range ws {
		node := fmt.Sprintf("node-%d", i)
		opts := storage.WatchOptions{ResourceVersion: rv, Predicate: onNode(node), Recursive: true}
		if indexed {
			opts.IndexValue = &node
		}
		w, err := s.Watch(context.Background(), s.prefix, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		ws[i] = w
	}
	start := time.Now()
	for i := range n {
		s.create(t, fmt.Sprintf("pod-%d", i), fmt.Sprintf("node-%d", i))
	}
	for i, w := range ws {
		expectNames(t, w, watch.Added, fmt.Sprintf("pod-%d", i))
	}
	t.Logf("%d pods to %d watchers in %v", n, n, time.Since(start))

	out := &corev1.Pod{}
	err := s.GuaranteedUpdate(context.Background(), s.key("pod-0"), out, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		p.Spec.NodeName = "node-1"
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	expectNames(t, ws[0], watch.Deleted, "pod-0")
	expectNames(t, ws[1], watch.Added, "pod-0")

	// Nothing else arrives: each watcher got its own pods only.
	time.Sleep(200 * time.Millisecond)
	extra := 0
	for _, w := range ws {
	drain:
		for {
			select {
			case ev := <-w.ResultChan():
				if ev.Type != watch.Bookmark {
					extra++
				}
			default:
				break drain
			}
		}
	}
	if extra != 0 {
		t.Fatalf("%d deliveries beyond the %d matching ones", extra, n+2)
	}
	if got := s.watches.n.Load(); got != 1 {
		t.Fatalf("%d etcd watches for %d watchers, want 1", got, n)
	}
}

// summary is an event as "TYPE name@rv".
func summary(ev watch.Event) string {
	if pod, ok := ev.Object.(*corev1.Pod); ok {
		return fmt.Sprintf("%s %s@%s", ev.Type, pod.Name, pod.ResourceVersion)
	}
	return fmt.Sprintf("%s %T", ev.Type, ev.Object)
}

// collect reads n non-bookmark events.
func collect(t *testing.T, w watch.Interface, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ev, ok := nextEvent(t, w)
		if !ok {
			t.Fatalf("watch closed after %v", out)
		}
		out = append(out, summary(ev))
	}
	return out
}

// TestSharedWatchReplay: a watcher starting at a revision in the buffer
// gets exactly what a watcher that was there all along got, predicate
// transitions included, without another etcd watch; the DELETED the first
// one got did not change the buffered objects.
func TestSharedWatchReplay(t *testing.T) {
	s := newSharedStore(t, 0)
	rv := s.revision(t)
	web := func(obj runtime.Object) (bool, error) { return obj.(*corev1.Pod).Labels["app"] == "web", nil }
	live := s.watch(t, rv, web)
	s.create(t, "a", "n1")
	s.relabel(t, "a", "app", "web")
	s.relabel(t, "a", "app", "db")
	s.relabel(t, "a", "app", "web")
	if err := s.Delete(context.Background(), s.key("a"), &corev1.Pod{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	got := collect(t, live, 4)
	wantTypes := []watch.EventType{watch.Added, watch.Deleted, watch.Added, watch.Deleted}
	for i, typ := range wantTypes {
		if want := string(typ) + " a@"; len(got[i]) < len(want) || got[i][:len(want)] != want {
			t.Fatalf("live watcher got %v, want types %v", got, wantTypes)
		}
	}
	replayed := collect(t, s.watch(t, rv, web), 4)
	if fmt.Sprint(replayed) != fmt.Sprint(got) {
		t.Fatalf("replayed %v, want %v", replayed, got)
	}
	all := collect(t, s.watch(t, rv, nil), 5)
	if all[0][:len("ADDED a@")] != "ADDED a@" || all[4][:len("DELETED a@")] != "DELETED a@" {
		t.Fatalf("unfiltered replay %v", all)
	}
	if got := s.watches.n.Load(); got != 1 {
		t.Fatalf("%d etcd watches, want 1", got)
	}
}

// TestSharedWatchOlderThanBuffer: a revision the buffer no longer covers
// is served by etcd directly and exactly while etcd has it, and is 410
// once compacted, even when the buffer still holds the events after it.
func TestSharedWatchOlderThanBuffer(t *testing.T) {
	s := newSharedStore(t, 10)
	rv0 := s.revision(t)
	first := s.watch(t, rv0, nil) // starts the shared watch
	var rvs []string
	var names []string
	for i := range 30 {
		name := fmt.Sprintf("p%02d", i)
		rvs = append(rvs, s.create(t, name, "n"))
		names = append(names, name)
	}
	// Let the shared watch see them all: its first watcher has.
	expectNames(t, first, watch.Added, names...)
	w := s.watch(t, rv0, nil)
	expectNames(t, w, watch.Added, names...)
	if got := s.watches.n.Load(); got != 2 {
		t.Fatalf("%d etcd watches after a watch from before the buffer, want 2 (shared + direct)", got)
	}
	recent := s.watch(t, rvs[25], nil)
	expectNames(t, recent, watch.Added, names[26:]...)
	if got := s.watches.n.Load(); got != 2 {
		t.Fatalf("%d etcd watches after a watch within the buffer, want still 2", got)
	}

	cur, _ := strconv.ParseInt(s.revision(t), 10, 64)
	if err := storage.Compact(context.Background(), s.client, cur); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{rv0, rvs[25]} {
		w := s.watch(t, from, nil)
		ev, ok := nextEvent(t, w)
		status, isStatus := ev.Object.(*metav1.Status)
		if !ok || ev.Type != watch.Error || !isStatus || status.Code != 410 || status.Reason != metav1.StatusReasonExpired {
			t.Fatalf("watch from compacted %s: got %s %v, want ERROR 410 Expired", from, ev.Type, ev.Object)
		}
	}
}

// TestSharedWatchSlowWatcher: a watcher that does not read is closed
// after its channel stays full, without holding up the others; resuming
// from the last revision it got replays the rest from the buffer.
func TestSharedWatchSlowWatcher(t *testing.T) {
	const n = 600
	s := newSharedStore(t, 0)
	rv := s.revision(t)
	slow := s.watch(t, rv, nil)
	fast := s.watch(t, rv, nil)
	names := make([]string, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			names[i] = fmt.Sprintf("p%03d", i)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: names[i]}}
			if err := s.Create(context.Background(), s.key(names[i]), pod, &corev1.Pod{}); err != nil {
				t.Errorf("create %s: %v", names[i], err)
				return
			}
		}
	}()
	start := time.Now()
	got := collect(t, fast, n)
	<-done
	t.Logf("fast watcher got %d events in %v", len(got), time.Since(start))

	// The slow watcher's channel holds what was queued for it, then closes.
	var lastRV string
	received := 0
	for {
		ev, ok := nextEvent(t, slow)
		if !ok {
			break
		}
		if ev.Type != watch.Added {
			t.Fatalf("slow watcher got %s", summary(ev))
		}
		lastRV = ev.Object.(*corev1.Pod).ResourceVersion
		received++
	}
	if received == 0 || received >= n {
		t.Fatalf("slow watcher got %d of %d events before closing, want it cut early", received, n)
	}
	t.Logf("slow watcher got %d events, then was closed", received)
	resumed := s.watch(t, lastRV, nil)
	expectNames(t, resumed, watch.Added, names[received:]...)
	if got := s.watches.n.Load(); got != 1 {
		t.Fatalf("%d etcd watches, want 1", got)
	}
}

// TestSharedWatchJoinsMidStream: watchers that join while events stream
// in each get every event after their revision exactly once, whether it
// reaches them from the buffer or from dispatch.
func TestSharedWatchJoinsMidStream(t *testing.T) {
	const writes, joiners = 400, 60
	s := newSharedStore(t, 0)
	s.watch(t, s.revision(t), nil) // starts the shared watch

	type write struct {
		name string
		rev  int64
	}
	done := make(chan []write)
	go func() {
		var out []write
		for i := range writes {
			name := fmt.Sprintf("p%03d", i)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
			got := &corev1.Pod{}
			if err := s.Create(context.Background(), s.key(name), pod, got); err != nil {
				t.Errorf("create %s: %v", name, err)
				break
			}
			rev, _ := strconv.ParseInt(got.ResourceVersion, 10, 64)
			out = append(out, write{name, rev})
		}
		done <- out
	}()
	// Each joiner reads as it goes, until the last write or a quiet
	// second. One that falls behind anyway (a loaded machine) is cut as
	// slow and resumes from the last revision it got, as a client does.
	last := fmt.Sprintf("p%03d", writes-1)
	collect := func(w watch.Interface) (got []string, cut bool) {
		defer w.Stop()
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					return got, true
				}
				if ev.Type == watch.Bookmark {
					continue
				}
				got = append(got, summary(ev))
				if pod, isPod := ev.Object.(*corev1.Pod); isPod && pod.Name == last {
					// Anything beyond the last write would show here.
					select {
					case ev := <-w.ResultChan():
						if ev.Type != watch.Bookmark {
							got = append(got, summary(ev))
						}
					case <-time.After(20 * time.Millisecond):
					}
					return got, false
				}
			case <-time.After(time.Second):
				return got, false
			}
		}
	}
	type result struct {
		got []string
		cut bool
	}
	type joiner struct {
		from int64
		res  chan result
	}
	var js []joiner
	for range joiners {
		rv := s.revision(t)
		from, _ := strconv.ParseInt(rv, 10, 64)
		j := joiner{from, make(chan result, 1)}
		w := s.watch(t, rv, nil)
		go func() {
			got, cut := collect(w)
			j.res <- result{got, cut}
		}()
		js = append(js, j)
		time.Sleep(time.Millisecond)
	}
	all := <-done
	for i, j := range js {
		var want []string
		for _, w := range all {
			if w.rev > j.from {
				want = append(want, fmt.Sprintf("ADDED %s@%d", w.name, w.rev))
			}
		}
		r := <-j.res
		got := r.got
		for r.cut {
			from := strconv.FormatInt(j.from, 10)
			if len(got) > 0 {
				from = got[len(got)-1][strings.LastIndex(got[len(got)-1], "@")+1:]
			}
			t.Logf("joiner %d was cut as slow after %d events; resuming from %s", i, len(got), from)
			var more []string
			more, cut := collect(s.watch(t, from, nil))
			if cut && len(more) == 0 {
				t.Fatalf("joiner %d: the watch resumed from %s was cut before its first event", i, from)
			}
			got, r.cut = append(got, more...), cut
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("joiner %d from %d got %d events, want %d:\n got %v\nwant %v", i, j.from, len(got), len(want), got, want)
		}
	}
}

// TestSharedWatchSharesPieces checks that the watch cache's objects share
// what they have in common: two pods stored with equal labels come out of
// the shared watch holding one labels map, its contents unchanged.
func TestSharedWatchSharesPieces(t *testing.T) {
	s := newSharedStore(t, 100)
	w := s.watch(t, s.revision(t), nil)
	for _, name := range []string{"a", "b"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name,
			Labels: map[string]string{"app": "web", "pod-template-hash": "abc"}}}
		if err := s.Create(context.Background(), s.key(name), pod, &corev1.Pod{}); err != nil {
			t.Fatal(err)
		}
	}
	var pods []*corev1.Pod
	for range 2 {
		ev, ok := nextEvent(t, w)
		if !ok || ev.Type != watch.Added {
			t.Fatalf("want ADDED, got %s (open %v)", ev.Type, ok)
		}
		pods = append(pods, ev.Object.(*corev1.Pod))
	}
	a, b := pods[0], pods[1]
	if a.Labels["app"] != "web" || b.Labels["pod-template-hash"] != "abc" || len(a.Labels) != 2 || len(b.Labels) != 2 {
		t.Fatalf("labels changed: %v, %v", a.Labels, b.Labels)
	}
	if reflect.ValueOf(a.Labels).UnsafePointer() != reflect.ValueOf(b.Labels).UnsafePointer() {
		t.Fatal("the cached pods hold two copies of equal labels, want one shared map")
	}
}
