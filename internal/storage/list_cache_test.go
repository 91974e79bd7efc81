package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// countingKV counts the range reads (not the count-only revision reads)
// a store sends to etcd.
type countingKV struct {
	clientv3.KV
	ranges atomic.Int64
	// inFlight and maxInFlight track concurrent range reads; slow (a
	// duration) holds each one that long.
	inFlight, maxInFlight, slow atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if op := clientv3.OpGet(key, opts...); !op.IsCountOnly() {
		c.ranges.Add(1)
		n := c.inFlight.Add(1)
		defer c.inFlight.Add(-1)
		for m := c.maxInFlight.Load(); n > m && !c.maxInFlight.CompareAndSwap(m, n); m = c.maxInFlight.Load() {
		}
		time.Sleep(time.Duration(c.slow.Load()))
	}
	return c.KV.Get(ctx, key, opts...)
}

// breakableWatcher relays etcd's watches and can end them all at once
// (as etcd does when it drops a stream) and hold new ones back.
type breakableWatcher struct {
	clientv3.Watcher
	mu   sync.Mutex
	brk  chan struct{}
	gate chan struct{} // closed: new watches start; open: they wait
}

func newBreakableWatcher(w clientv3.Watcher) *breakableWatcher {
	gate := make(chan struct{})
	close(gate)
	return &breakableWatcher{Watcher: w, brk: make(chan struct{}), gate: gate}
}

func (b *breakableWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	b.mu.Lock()
	brk, gate := b.brk, b.gate
	b.mu.Unlock()
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer close(out)
		select {
		case <-gate:
		case <-ctx.Done():
			return
		}
		in := b.Watcher.Watch(ctx, key, opts...)
		for {
			select {
			case r, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- r:
				case <-brk:
					return
				}
			case <-brk:
				return
			}
		}
	}()
	return out
}

// breakAndHold ends the current watches and holds new ones until release.
func (b *breakableWatcher) breakAndHold() (release func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.brk)
	b.brk = make(chan struct{})
	gate := make(chan struct{})
	b.gate = gate
	return func() { close(gate) }
}

// cachedStore is a store with a watch cache whose etcd range reads are
// counted and whose etcd watches can be broken.
type cachedStore struct {
	*sharedStore
	kv      *countingKV
	watcher *breakableWatcher
}

func newCachedStore(t testing.TB) *cachedStore { return newIndexedCachedStore(t, nil) }

// newIndexedCachedStore is newCachedStore with index as the WatchIndex.
func newIndexedCachedStore(t testing.TB, index func(runtime.Object) string) *cachedStore {
	client, prefix := etcdtest.Start(t)
	kv := &countingKV{KV: client.KV}
	client.KV = kv
	bw := newBreakableWatcher(client.Watcher)
	counter := &countingWatcher{Watcher: bw}
	client.Watcher = counter
	cfg := storagetest.StoreConfig()
	cfg.KeyPrefix = prefix + "/pods/"
	cfg.WatchIndex = index
	s := &sharedStore{Interface: storage.NewStore(client, cfg), client: client, prefix: prefix + "/pods/", watches: counter}
	return &cachedStore{sharedStore: s, kv: kv, watcher: bw}
}

func (s *cachedStore) list(t *testing.T, key string, opts storage.ListOptions) *corev1.PodList {
	t.Helper()
	opts.Recursive = opts.Recursive || key != "" && key[len(key)-1] == '/'
	list := &corev1.PodList{}
	if err := s.List(context.Background(), key, opts, list); err != nil {
		t.Fatalf("list %s %+v: %v", key, opts, err)
	}
	return list
}

// fromCache runs fn and fails if it read a range from etcd.
func (s *cachedStore) fromCache(t *testing.T, what string, fn func()) {
	t.Helper()
	before := s.kv.ranges.Load()
	fn()
	if n := s.kv.ranges.Load() - before; n != 0 {
		t.Fatalf("%s: %d range reads from etcd, want it served from the cache", what, n)
	}
}

func podNames(l *corev1.PodList) []string {
	var out []string
	for _, p := range l.Items {
		out = append(out, p.Name)
	}
	return out
}

func TestCacheListResourceVersionZero(t *testing.T) {
	s := newCachedStore(t)
	s.create(t, "a", "n1")
	s.create(t, "b", "n2")
	s.list(t, s.prefix, storage.ListOptions{}) // starts the cache
	var l *corev1.PodList
	s.fromCache(t, "list rv=0", func() { l = s.list(t, s.prefix, storage.ListOptions{ResourceVersion: "0"}) })
	if got := podNames(l); !slices.Equal(got, []string{"a", "b"}) || l.ResourceVersion == "" {
		t.Fatalf("rv=0 list: %v at %q", got, l.ResourceVersion)
	}
	for _, p := range l.Items {
		if p.ResourceVersion == "" {
			t.Fatalf("item %s without resourceVersion", p.Name)
		}
	}
}

// TestCacheConsistentListReadsYourWrites: a list with rv="" right after a
// write sees it, and is still served from memory.
func TestCacheConsistentListReadsYourWrites(t *testing.T) {
	s := newCachedStore(t)
	s.list(t, s.prefix, storage.ListOptions{})
	var want []string
	for i := range 30 {
		name := fmt.Sprintf("p%02d", i)
		rv, _ := strconv.ParseInt(s.create(t, name, "n"), 10, 64)
		want = append(want, name)
		var l *corev1.PodList
		s.fromCache(t, "consistent list", func() { l = s.list(t, s.prefix, storage.ListOptions{}) })
		if got := podNames(l); !slices.Equal(got, want) {
			t.Fatalf("list after creating %s: %v", name, got)
		}
		if lrv, _ := strconv.ParseInt(l.ResourceVersion, 10, 64); lrv < rv {
			t.Fatalf("list at %d, before the write at %d", lrv, rv)
		}
	}
	// An idle prefix: a write elsewhere moves etcd's revision on; the
	// cache learns of it from a progress notification.
	if _, err := s.client.Put(context.Background(), "/elsewhere", "x"); err != nil {
		t.Fatal(err)
	}
	cur, _ := strconv.ParseInt(s.revision(t), 10, 64)
	var l *corev1.PodList
	s.fromCache(t, "consistent list of an idle prefix", func() { l = s.list(t, s.prefix, storage.ListOptions{}) })
	if lrv, _ := strconv.ParseInt(l.ResourceVersion, 10, 64); lrv < cur {
		t.Fatalf("list at %d, etcd at %d", lrv, cur)
	}
}

func TestCacheListSelectorsAndDeletes(t *testing.T) {
	s := newCachedStore(t)
	for i := range 6 {
		s.create(t, fmt.Sprintf("p%d", i), fmt.Sprintf("n%d", i%2))
	}
	s.relabel(t, "p1", "app", "web")
	s.relabel(t, "p4", "app", "web")
	s.list(t, s.prefix, storage.ListOptions{})
	web := labels.SelectorFromSet(labels.Set{"app": "web"})
	byLabel := func(obj runtime.Object) (bool, error) { return web.Matches(labels.Set(obj.(*corev1.Pod).Labels)), nil }
	s.fromCache(t, "selectors", func() {
		if got := podNames(s.list(t, s.prefix, storage.ListOptions{Predicate: byLabel})); !slices.Equal(got, []string{"p1", "p4"}) {
			t.Fatalf("label selector: %v", got)
		}
		if got := podNames(s.list(t, s.prefix, storage.ListOptions{Predicate: onNode("n0")})); !slices.Equal(got, []string{"p0", "p2", "p4"}) {
			t.Fatalf("field selector: %v", got)
		}
		if got := podNames(s.list(t, s.prefix+"ns/", storage.ListOptions{Predicate: onNode("n1")})); !slices.Equal(got, []string{"p1", "p3", "p5"}) {
			t.Fatalf("namespace and field selector: %v", got)
		}
		if got := podNames(s.list(t, s.prefix+"other/", storage.ListOptions{})); len(got) != 0 {
			t.Fatalf("other namespace: %v", got)
		}
		if got := podNames(s.list(t, s.key("p3"), storage.ListOptions{})); !slices.Equal(got, []string{"p3"}) {
			t.Fatalf("single key: %v", got)
		}
	})
	for _, name := range []string{"p1", "p2"} {
		if err := s.Delete(context.Background(), s.key(name), &corev1.Pod{}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.fromCache(t, "after deletes", func() {
		if got := podNames(s.list(t, s.prefix, storage.ListOptions{})); !slices.Equal(got, []string{"p0", "p3", "p4", "p5"}) {
			t.Fatalf("after deletes: %v", got)
		}
		if got := podNames(s.list(t, s.key("p2"), storage.ListOptions{})); len(got) != 0 {
			t.Fatalf("deleted single key: %v", got)
		}
	})
}

// TestCacheIndexedLists: with the node index, a list or a watch's
// initial state that names a node reads that node's pods alone (its
// predicate is asked about those only) and gives what a walk of every
// pod gives, as pods are created, scheduled, moved and deleted; an
// indexed paged list's later pages read its first page's snapshot.
func TestCacheIndexedLists(t *testing.T) {
	s := newIndexedCachedStore(t, func(obj runtime.Object) string { return obj.(*corev1.Pod).Spec.NodeName })
	for i := range 30 {
		s.create(t, fmt.Sprintf("p%02d", i), fmt.Sprintf("n%d", i%3))
	}
	s.create(t, "pending-a", "")
	s.create(t, "pending-b", "")
	s.list(t, s.prefix, storage.ListOptions{}) // starts the cache

	// indexed lists node's pods with the index, after checking that they
	// are what a walk of every pod finds and that the predicate was asked
	// about them alone.
	indexed := func(node string, opts storage.ListOptions) []string {
		t.Helper()
		opts.Predicate = onNode(node)
		all := podNames(s.list(t, s.prefix, opts))
		var asked atomic.Int64
		opts.Predicate = func(obj runtime.Object) (bool, error) { asked.Add(1); return onNode(node)(obj) }
		opts.IndexValue = &node
		got := podNames(s.list(t, s.prefix, opts))
		if !slices.Equal(got, all) {
			t.Fatalf("node %q: indexed list %v, walk of every pod %v", node, got, all)
		}
		if asked.Load() != int64(len(got)) {
			t.Fatalf("node %q: predicate asked about %d pods for its %d", node, asked.Load(), len(got))
		}
		return got
	}
	s.fromCache(t, "indexed lists", func() {
		for _, rv := range []string{"", "0"} {
			if got := indexed("n1", storage.ListOptions{ResourceVersion: rv}); !slices.Equal(got, []string{"p01", "p04", "p07", "p10", "p13", "p16", "p19", "p22", "p25", "p28"}) {
				t.Fatalf("rv %q: n1 has %v", rv, got)
			}
		}
		if got := indexed("", storage.ListOptions{}); !slices.Equal(got, []string{"pending-a", "pending-b"}) {
			t.Fatalf("unscheduled: %v", got)
		}
		if got := indexed("n9", storage.ListOptions{}); len(got) != 0 {
			t.Fatalf("unknown node: %v", got)
		}
	})

	move := func(name, node string) {
		t.Helper()
		err := s.GuaranteedUpdate(context.Background(), s.key(name), &corev1.Pod{}, false, nil, func(cur runtime.Object) (runtime.Object, error) {
			p := cur.(*corev1.Pod)
			p.Spec.NodeName = node
			return p, nil
		})
		if err != nil {
			t.Fatalf("move %s: %v", name, err)
		}
	}
	move("p00", "n1")       // between nodes
	move("pending-a", "n2") // scheduled
	s.relabel(t, "p03", "app", "web")
	if err := s.Delete(context.Background(), s.key("p01"), &corev1.Pod{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	s.fromCache(t, "after changes", func() {
		want := map[string][]string{
			"n0": {"p03", "p06", "p09", "p12", "p15", "p18", "p21", "p24", "p27"},
			"n1": {"p00", "p04", "p07", "p10", "p13", "p16", "p19", "p22", "p25", "p28"},
			"n2": {"p02", "p05", "p08", "p11", "p14", "p17", "p20", "p23", "p26", "p29", "pending-a"},
			"":   {"pending-b"},
		}
		for node, names := range want {
			if got := indexed(node, storage.ListOptions{}); !slices.Equal(got, names) {
				t.Fatalf("node %q has %v, want %v", node, got, names)
			}
		}
		if l := s.list(t, s.key("p03"), storage.ListOptions{}); len(l.Items) != 1 || l.Items[0].Labels["app"] != "web" {
			t.Fatalf("p03 not updated in place: %v", l.Items)
		}
	})

	// A watch's initial state reads the same entries.
	s.fromCache(t, "indexed watch", func() {
		node := "n2"
		var asked atomic.Int64
		pred := func(obj runtime.Object) (bool, error) { asked.Add(1); return onNode(node)(obj) }
		w, err := s.Watch(context.Background(), s.prefix, storage.WatchOptions{Predicate: pred, Recursive: true, IndexValue: &node})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		expectNames(t, w, watch.Added, "p02", "p05", "p08", "p11", "p14", "p17", "p20", "p23", "p26", "p29", "pending-a")
		if asked.Load() != 11 {
			t.Fatalf("predicate asked about %d pods for the node's 11", asked.Load())
		}
	})

	// Pages of an indexed list come from the first page's snapshot.
	node := "n0"
	first := s.list(t, s.prefix, storage.ListOptions{Limit: 4, Predicate: onNode(node), IndexValue: &node})
	move("p15", "n1")
	s.create(t, "p30", "n0")
	got := podNames(first)
	s.fromCache(t, "indexed pages", func() {
		for page := first; page.Continue != ""; {
			page = s.list(t, s.prefix, storage.ListOptions{Limit: 4, Continue: page.Continue, Predicate: onNode(node), IndexValue: &node})
			got = append(got, podNames(page)...)
		}
	})
	if want := []string{"p03", "p06", "p09", "p12", "p15", "p18", "p21", "p24", "p27"}; !slices.Equal(got, want) {
		t.Fatalf("pages %v, want the snapshot's %v", got, want)
	}
	if got := indexed("n0", storage.ListOptions{}); slices.Contains(got, "p15") || !slices.Contains(got, "p30") {
		t.Fatalf("n0 now %v", got)
	}
}

// TestCacheListPaging: pages come from one snapshot of the cache while
// writes go on, with continue tokens and remaining counts as from etcd.
func TestCacheListPaging(t *testing.T) {
	s := newCachedStore(t)
	for i := range 10 {
		s.create(t, fmt.Sprintf("p%02d", i), "n")
	}
	_ = s.list(t, s.prefix, storage.ListOptions{ResourceVersion: "0"}) // starts the cache
	var got []string
	var remaining []int64
	var page *corev1.PodList
	s.fromCache(t, "first page", func() { page = s.list(t, s.prefix, storage.ListOptions{Limit: 4}) })
	snapshot, first := page.ResourceVersion, page.Continue
	s.create(t, "p10", "n")
	s.relabel(t, "p09", "changed", "yes")
	s.fromCache(t, "next pages", func() {
		for {
			got = append(got, podNames(page)...)
			if page.ResourceVersion != snapshot {
				t.Fatalf("page at %s, want %s", page.ResourceVersion, snapshot)
			}
			for _, p := range page.Items {
				if p.Labels["changed"] != "" {
					t.Fatalf("page shows %s changed after the snapshot", p.Name)
				}
			}
			if page.Continue == "" {
				break
			}
			remaining = append(remaining, *page.RemainingItemCount)
			page = s.list(t, s.prefix, storage.ListOptions{Limit: 4, Continue: page.Continue})
		}
	})
	if want := []string{"p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09"}; !slices.Equal(got, want) {
		t.Fatalf("pages %v", got)
	}
	if !slices.Equal(remaining, []int64{6, 2}) {
		t.Fatalf("remaining %v", remaining)
	}
	// The same snapshot paged again with another page size: the counts
	// earlier pages remembered still give each page's remainder.
	s.fromCache(t, "pages of another size", func() {
		page := s.list(t, s.prefix, storage.ListOptions{Limit: 3, Continue: first})
		if got := podNames(page); !slices.Equal(got, []string{"p04", "p05", "p06"}) || page.RemainingItemCount == nil || *page.RemainingItemCount != 3 {
			t.Fatalf("page %v, remaining %v, want p04-p06 and 3", got, page.RemainingItemCount)
		}
		page = s.list(t, s.prefix, storage.ListOptions{Limit: 2, Continue: page.Continue})
		if got := podNames(page); !slices.Equal(got, []string{"p07", "p08"}) || page.RemainingItemCount == nil || *page.RemainingItemCount != 1 {
			t.Fatalf("page %v, remaining %v, want p07-p08 and 1", got, page.RemainingItemCount)
		}
	})
	// A page with a selective predicate ends with the last match.
	s.fromCache(t, "paging with a predicate", func() {
		page := s.list(t, s.prefix, storage.ListOptions{Limit: 2, Predicate: onNode("n"), ResourceVersion: "0"})
		if page.Continue == "" || page.RemainingItemCount != nil {
			t.Fatalf("first page continue %q remaining %v", page.Continue, page.RemainingItemCount)
		}
	})
}

// TestCacheReinitAfterCompaction: when the shared watch resumes at a
// compacted revision it lists the state again, so the cache neither
// keeps deleted pods nor misses new ones.
func TestCacheReinitAfterCompaction(t *testing.T) {
	s := newCachedStore(t)
	s.create(t, "a", "n")
	s.create(t, "b", "n")
	s.list(t, s.prefix, storage.ListOptions{})

	// A plain watch error: the shared watch resumes where it was.
	release := s.watcher.breakAndHold()
	s.create(t, "c", "n")
	release()
	s.fromCache(t, "after a watch error", func() {
		if got := podNames(s.list(t, s.prefix, storage.ListOptions{})); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("after a watch error: %v", got)
		}
	})

	// The history it needs is compacted while it is away.
	release = s.watcher.breakAndHold()
	if err := s.Delete(context.Background(), s.key("a"), &corev1.Pod{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	s.create(t, "d", "n")
	cur, _ := strconv.ParseInt(s.revision(t), 10, 64)
	if err := storage.Compact(context.Background(), s.client, cur); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the shared watch is waiting to resume
	before := s.kv.ranges.Load()
	release()
	if got := podNames(s.list(t, s.prefix, storage.ListOptions{})); !slices.Equal(got, []string{"b", "c", "d"}) {
		t.Fatalf("after compaction: %v", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.kv.ranges.Load() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the re-list
	}
	s.fromCache(t, "after re-listing", func() {
		if got := podNames(s.list(t, s.prefix, storage.ListOptions{})); !slices.Equal(got, []string{"b", "c", "d"}) {
			t.Fatalf("after compaction: %v", got)
		}
	})
}

// TestCacheWatchInitialStateWhileCacheLags: watches that start with the
// current state while the cache cannot catch up with etcd read it from
// etcd, correctly, but no more than two at a time (each such read is the
// whole range); once the cache catches up they are served from memory.
func TestCacheWatchInitialStateWhileCacheLags(t *testing.T) {
	s := newCachedStore(t)
	s.create(t, "a", "n")
	s.list(t, s.prefix, storage.ListOptions{}) // starts the cache

	release := s.watcher.breakAndHold()
	s.create(t, "b", "n") // etcd moves on; the cache cannot follow
	s.kv.slow.Store(int64(50 * time.Millisecond))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.Watch(context.Background(), s.prefix, storage.WatchOptions{Recursive: true})
			if err != nil {
				t.Error(err)
				return
			}
			defer w.Stop()
			for _, want := range []string{"a", "b"} {
				select {
				case ev := <-w.ResultChan():
					if p, ok := ev.Object.(*corev1.Pod); ev.Type != watch.Added || !ok || p.Name != want {
						t.Errorf("got %s %v, want ADDED %s", ev.Type, ev.Object, want)
						return
					}
				case <-time.After(30 * time.Second):
					t.Errorf("no event for %s", want)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.kv.slow.Store(0)
	if got := s.kv.maxInFlight.Load(); got > 2 || got == 0 {
		t.Fatalf("%d state reads from etcd at once, want 1 or 2", got)
	}
	release()
	s.fromCache(t, "watch once the cache caught up", func() {
		w := s.watch(t, "", nil)
		expectNames(t, w, watch.Added, "a", "b")
	})
}

// TestCacheGuaranteedUpdate: an update starts from the cache's copy of
// the object, reading nothing from etcd, and a stale copy loses no write:
// the compare fails and the update is redone on the current object; a
// no-op on a stale copy is checked against etcd before it is believed.
func TestCacheGuaranteedUpdate(t *testing.T) {
	s := newCachedStore(t)
	s.create(t, "a", "n")
	s.list(t, s.prefix, storage.ListOptions{}) // the cache holds a
	var p *corev1.Pod
	s.fromCache(t, "update", func() { p = s.relabel(t, "a", "x", "1") })
	if p.Labels["x"] != "1" || p.ResourceVersion == "" {
		t.Fatalf("updated: labels %v rv %q", p.Labels, p.ResourceVersion)
	}

	// Another writer, without this cache, changes a while the cache is
	// held back.
	s.list(t, s.prefix, storage.ListOptions{}) // the cache has x=1
	release := s.watcher.breakAndHold()
	defer release()
	cfg := storagetest.StoreConfig()
	cfg.KeyPrefix = s.prefix
	other := &sharedStore{Interface: storage.NewStore(s.client, cfg), client: s.client, prefix: s.prefix}
	other.relabel(t, "a", "y", "2")
	p = s.relabel(t, "a", "z", "3")
	if p.Labels["x"] != "1" || p.Labels["y"] != "2" || p.Labels["z"] != "3" {
		t.Fatalf("update on a stale cache lost a write: labels %v", p.Labels)
	}

	want := other.relabel(t, "a", "y", "4")
	before := s.kv.ranges.Load()
	out := &corev1.Pod{}
	err := s.GuaranteedUpdate(context.Background(), s.key("a"), out, false, nil,
		func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	if err != nil {
		t.Fatal(err)
	}
	if out.Labels["y"] != "4" || out.ResourceVersion != want.ResourceVersion {
		t.Fatalf("no-op on a stale cache returned labels %v at %s, want y=4 at %s", out.Labels, out.ResourceVersion, want.ResourceVersion)
	}
	if s.kv.ranges.Load() == before {
		t.Fatal("a no-op on a stale cached object was believed without reading etcd")
	}
}

// streamRecorder records the gRPC watch stream (clientv3 groups watches
// into streams by their context's outgoing metadata) of each watch and
// of each progress request.
type streamRecorder struct {
	clientv3.Watcher
	mu       sync.Mutex
	watches  map[string][]string // key → streams
	progress []string
}

func streamOf(ctx context.Context) string {
	md, _ := metadata.FromOutgoingContext(ctx)
	return fmt.Sprint(md)
}

func (r *streamRecorder) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	r.mu.Lock()
	r.watches[key] = append(r.watches[key], streamOf(ctx))
	r.mu.Unlock()
	return r.Watcher.Watch(ctx, key, opts...)
}

func (r *streamRecorder) RequestProgress(ctx context.Context) error {
	r.mu.Lock()
	r.progress = append(r.progress, streamOf(ctx))
	r.mu.Unlock()
	return r.Watcher.RequestProgress(ctx)
}

// TestCacheWatchOwnStream: etcd answers a progress request on a stream
// only when every watch on it has caught up, so the shared watch has a
// stream of its own, apart from the watches etcd serves directly (often
// behind, replaying old revisions), and asks for progress on it: then a
// consistent list of an idle prefix is served from the cache whatever
// other watches do.
func TestCacheWatchOwnStream(t *testing.T) {
	client, prefix := etcdtest.Start(t)
	rec := &streamRecorder{Watcher: client.Watcher, watches: map[string][]string{}}
	client.Watcher = rec
	cfg := storagetest.StoreConfig()
	cfg.KeyPrefix = prefix + "/pods/"
	s := &cachedStore{sharedStore: &sharedStore{Interface: storage.NewStore(client, cfg), client: client, prefix: prefix + "/pods/"}}
	s.create(t, "a", "n")
	s.list(t, s.prefix, storage.ListOptions{}) // starts the cache

	// A direct watch: a store without a cache, on another prefix.
	direct := storage.NewStore(client, storagetest.StoreConfig())
	w, err := direct.Watch(context.Background(), prefix+"/other/", storage.WatchOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The store opens its etcd watch in the background; wait for it, so
	// that it is on a stream before the list below asks for progress.
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.watches[prefix+"/other/"]) > 0, nil
	}); err != nil {
		t.Fatalf("the direct watch never reached etcd: %v", err)
	}

	// The pods' prefix is idle while etcd moves on: a consistent list
	// needs a progress notification on the shared watch's stream.
	if _, err := client.Put(context.Background(), prefix+"/elsewhere", "x"); err != nil {
		t.Fatal(err)
	}
	cur, _ := strconv.ParseInt(s.revision(t), 10, 64)
	l := s.list(t, s.prefix, storage.ListOptions{})
	if lrv, _ := strconv.ParseInt(l.ResourceVersion, 10, 64); lrv < cur {
		t.Fatalf("list at %d, etcd at %d", lrv, cur)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	cacheStreams, directStreams := rec.watches[s.prefix], rec.watches[prefix+"/other/"]
	if len(cacheStreams) == 0 || len(directStreams) == 0 {
		t.Fatalf("watches seen: %v", rec.watches)
	}
	cache := cacheStreams[0]
	if cache == directStreams[0] {
		t.Fatalf("the shared watch and a direct watch share the stream %s", cache)
	}
	if !slices.Contains(rec.progress, cache) {
		t.Fatalf("progress requested on %v, never on the shared watch's stream %s", rec.progress, cache)
	}
}

// Gets at "0" and NotOlderThan N come from the cache when it holds the
// key at N or later, as a copy; a consistent Get, a key the cache has not
// seen and an N it has not reached read etcd.
func TestCacheGet(t *testing.T) {
	s := newCachedStore(t)
	rv := s.create(t, "a", "n1")
	s.list(t, s.prefix, storage.ListOptions{}) // starts the cache
	get := func(rv string) *corev1.Pod {
		t.Helper()
		p := &corev1.Pod{}
		if err := s.Get(context.Background(), s.key("a"), storage.GetOptions{ResourceVersion: rv}, p); err != nil {
			t.Fatalf("get at %q: %v", rv, err)
		}
		return p
	}
	var p *corev1.Pod
	s.fromCache(t, "get rv=0", func() { p = get("0") })
	if p.Name != "a" || p.Spec.NodeName != "n1" || p.ResourceVersion != rv {
		t.Fatalf("get rv=0 from the cache: %s on %q at %s, want a on n1 at %s", p.Name, p.Spec.NodeName, p.ResourceVersion, rv)
	}
	s.fromCache(t, "get rv=N", func() { p = get(rv) })
	// The copy is the caller's: changing it leaves the cache's alone.
	p.Labels = map[string]string{"changed": "yes"}
	p.Spec.NodeName = "elsewhere"
	if p = get("0"); p.Labels["changed"] != "" || p.Spec.NodeName != "n1" {
		t.Fatalf("a caller's change reached the cache: labels %v node %q", p.Labels, p.Spec.NodeName)
	}

	readsEtcd := func(what, key, rv string, wantErr error) {
		t.Helper()
		before := s.kv.ranges.Load()
		err := s.Get(context.Background(), key, storage.GetOptions{ResourceVersion: rv}, &corev1.Pod{})
		if !errors.Is(err, wantErr) && !(wantErr == nil && err == nil) {
			t.Fatalf("%s: err %v, want %v", what, err, wantErr)
		}
		if s.kv.ranges.Load() == before {
			t.Fatalf("%s: served from the cache, want an etcd read", what)
		}
	}
	readsEtcd("consistent get", s.key("a"), "", nil)
	readsEtcd("get of a key the cache lacks", s.key("missing"), "0", storage.ErrNotFound)

	// Held back, the cache has not seen b created, nor a's new revision.
	release := s.watcher.breakAndHold()
	defer release()
	s.create(t, "b", "n2")
	readsEtcd("get of a key created after the cache's revision", s.key("b"), "0", nil)
	updated := s.relabel(t, "a", "x", "1")
	p = &corev1.Pod{}
	before := s.kv.ranges.Load()
	if err := s.Get(context.Background(), s.key("a"), storage.GetOptions{ResourceVersion: updated.ResourceVersion}, p); err != nil {
		t.Fatal(err)
	}
	if s.kv.ranges.Load() == before || p.Labels["x"] != "1" {
		t.Fatalf("get at a revision the cache has not reached: labels %v, etcd reads %d", p.Labels, s.kv.ranges.Load()-before)
	}
}
