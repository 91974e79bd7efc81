// Command etcd drives skiff's embedded etcd, alone in its process, with the
// write mix of the 5,000-node churn run while the API server's compactor
// runs, and reports write latency by kind, the seconds whose p99 passed
// 100 ms, and what each compaction removed and took. Set beside the churn
// run's etcd latencies, it says how much of those is etcd's own work on
// this machine and how much is waiting for CPU inside a busy server.
//
// The mix, about 1,100 writes a second at the defaults: every node's Lease
// renewed every 10 s and its status every 5 min, a pod replaced 50 times a
// second (create, binding and three status writes for the new pod, a
// graceful delete and removal of the old), 250 events a second attached to
// an etcd lease, and 110 ReplicaSet status writes. Updates are the API
// server's compare-and-swap on the mod revision. Unless -watch=false, each
// prefix is watched as the API server's watch cache watches it, and the
// time from a write to its event is reported as "watch delivery".
//
// With -busy N, N goroutines work in the same process meanwhile, each a
// millisecond on and a millisecond off: the write path's goroutines then
// wait their turn for a processor, as they do in an API server that embeds
// etcd.
//
//	go run ./bench/etcd [-dur 11m] [-compact 5m] [-pods 150000] [-nodes 5000] [-busy N] [-short]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
	"github.com/skiff-sh/skiff/internal/storage"
)

type config struct {
	dur, compactEvery          time.Duration
	pods, nodes, podRate, sets int
	// busy goroutines work in the process while the mix runs, so that the
	// Go scheduler has other runnable work, as in a busy API server that
	// embeds etcd.
	busy int
	// watch: watch every prefix written, as the API server does.
	watch bool
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.dur, "dur", 11*time.Minute, "how long the write mix runs")
	flag.DurationVar(&cfg.compactEvery, "compact", storage.DefaultCompactInterval, "compaction interval (each compacts to the revision of the one before, as the API server's compactor)")
	flag.IntVar(&cfg.pods, "pods", 150000, "pods stored")
	flag.IntVar(&cfg.nodes, "nodes", 5000, "nodes (each with a Lease)")
	flag.IntVar(&cfg.podRate, "pod-rate", 50, "pods replaced per second")
	flag.BoolVar(&cfg.watch, "watch", true, "watch every prefix written (with previous values), as the API server's watch cache does, and measure delivery")
	flag.IntVar(&cfg.busy, "busy", 0, "goroutines that work in the same process during the mix, each a millisecond on and a millisecond off (the busy server etcd is embedded in); results go under churn_mix_busy_<n>")
	out := flag.String("out", "bench/results", "directory for JSON results")
	short := flag.Bool("short", false, "a quick run (CI regression guard): small counts, 25 s")
	flag.Parse()
	cfg.sets = 16400
	if *short {
		cfg = config{dur: 25 * time.Second, compactEvery: 10 * time.Second, pods: 5000, nodes: 500, podRate: 20, sets: 500, busy: cfg.busy, watch: cfg.watch}
	}
	if err := run(cfg, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// compaction is one compaction's size and wall time.
type compaction struct {
	Revisions int64   `json:"revisions"`
	MS        float64 `json:"ms"`
}

type sample struct {
	kind string
	at   time.Duration // since the mix started
	took time.Duration
}

// recorder collects every write's latency.
type recorder struct {
	mu      sync.Mutex
	start   time.Time
	samples []sample
}

func (r *recorder) add(kind string, start time.Time, err error) {
	if err != nil {
		return
	}
	r.addTook(kind, start, time.Since(start))
}

func (r *recorder) addTook(kind string, start time.Time, took time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, sample{kind: kind, at: start.Sub(r.start), took: took})
	r.mu.Unlock()
}

func run(cfg config, out string) error {
	dir, err := os.MkdirTemp("", "skiff-bench-etcd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := storage.StartEmbedded(ctx, storage.EmbeddedConfig{DataDir: dir,
		ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0"})
	if err != nil {
		return err
	}
	defer m.Close()
	c := m.LocalClient()
	defer c.Close()

	podKey := func(i int) string { return fmt.Sprintf("/registry/pods/ns-%d/pod-%d", i%100, i) }
	leaseKey := func(i int) string { return fmt.Sprintf("/registry/leases/kube-node-lease/node-%d", i) }
	nodeKey := func(i int) string { return fmt.Sprintf("/registry/minions/node-%d", i) }
	rsKey := func(i int) string { return fmt.Sprintf("/registry/replicasets/ns-%d/rs-%d", i%100, i) }
	revs := &revisions{m: map[string]int64{}}
	t0 := time.Now()
	for _, f := range []struct {
		n, size int
		key     func(int) string
	}{{cfg.pods, 3000, podKey}, {cfg.nodes, 400, leaseKey}, {cfg.nodes, 4000, nodeKey}, {cfg.sets, 2000, rsKey}} {
		if err := fill(ctx, c, revs, f.n, f.key, f.size); err != nil {
			return err
		}
	}
	fmt.Printf("stored %d pods, %d Leases and nodes, %d ReplicaSets in %v; running the churn mix for %v\n",
		cfg.pods, cfg.nodes, cfg.sets, time.Since(t0).Round(time.Second), cfg.dur)

	rec := &recorder{start: time.Now()}
	lctx, lcancel := context.WithTimeout(ctx, cfg.dur)
	defer lcancel()
	var wg sync.WaitGroup
	if cfg.watch {
		watchAll(lctx, c, rec, &wg)
	}
	// Each write runs in its own goroutine at its scheduled time: the
	// writers are open-loop, as heartbeating kubelets are, so a stall
	// delays every write due in it.
	spawn := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	// An update is a compare-and-swap on the revision the writer last
	// saw, as the API server's is on its watch cache's: no read first.
	// A lost race (or a key not seen yet) reads the latest in the same
	// transaction, as the server's retry does.
	update := func(kind, key string, size int) {
		rev, _ := revs.get(key)
		start := time.Now()
		resp, err := c.Txn(lctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, value(size))).Else(clientv3.OpGet(key)).Commit()
		rec.add(kind, start, err)
		if err != nil {
			return
		}
		if resp.Succeeded {
			revs.set(key, resp.Header.Revision)
		} else if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
			revs.set(key, rr.Kvs[0].ModRevision)
		}
	}
	create := func(kind, key string, size int, opts ...clientv3.OpOption) {
		start := time.Now()
		resp, err := c.Txn(lctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, value(size), opts...)).Commit()
		rec.add(kind, start, err)
		if err == nil && resp.Succeeded {
			revs.set(key, resp.Header.Revision)
		}
	}
	every := func(rate float64, f func(i int)) {
		spawn(func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-lctx.Done():
					return
				case <-t.C:
				}
				f(i)
			}
		})
	}
	every(float64(cfg.nodes)/10, func(i int) { spawn(func() { update("update lease", leaseKey(i%cfg.nodes), 400) }) })
	every(float64(cfg.nodes)/300, func(i int) { spawn(func() { update("update node", nodeKey(i%cfg.nodes), 4000) }) })
	every(110, func(int) { spawn(func() { update("update replicaset", rsKey(rand.IntN(cfg.sets)), 2000) }) })
	// Events carry an etcd lease, one per minute shared by all events
	// created in it, as the API server's TTL leases are.
	var lease struct {
		sync.Mutex
		id clientv3.LeaseID
		at time.Time
	}
	every(250, func(i int) {
		lease.Lock()
		if time.Since(lease.at) > time.Minute {
			if l, err := c.Grant(lctx, 3600); err == nil {
				lease.id, lease.at = l.ID, time.Now()
			}
		}
		id := lease.id
		lease.Unlock()
		spawn(func() {
			create("create event", fmt.Sprintf("/registry/events/ns-%d/ev-%d", i%100, i), 800, clientv3.WithLease(id))
		})
	})
	every(float64(cfg.podRate), func(i int) {
		newPod, old := cfg.pods+i, i
		spawn(func() { create("create pod", podKey(newPod), 3000) })
		spawn(func() { update("update pod", podKey(old), 3100) }) // graceful delete
		for _, d := range []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second} {
			wg.Add(1)
			time.AfterFunc(d, func() { defer wg.Done(); update("update pod", podKey(newPod), 3200) })
		}
		wg.Add(1)
		time.AfterFunc(1500*time.Millisecond, func() {
			defer wg.Done()
			start := time.Now()
			_, err := c.Delete(lctx, podKey(old))
			rec.add("delete pod", start, err)
			revs.drop(podKey(old))
		})
	})
	for range cfg.busy {
		spawn(func() { spin(lctx) })
	}
	var compactions []compaction
	compactDone := make(chan struct{})
	go func() {
		defer close(compactDone)
		compactions = compactLoop(lctx, c, cfg.compactEvery)
	}()
	<-lctx.Done()
	wg.Wait()
	<-compactDone
	res := summarize(rec, compactions, cfg)
	key := "churn_mix"
	if !cfg.watch {
		key += "_unwatched"
	}
	if cfg.busy > 0 {
		key += fmt.Sprintf("_busy_%d", cfg.busy)
	}
	if n := runtime.GOMAXPROCS(0); n != runtime.NumCPU() {
		key += fmt.Sprintf("_gomaxprocs_%d", n)
	}
	return benchutil.Save(out, "etcd", key, res)
}

// compactLoop compacts as the API server's compactor does, each tick to
// the revision seen at the tick before, but physically (waiting for the
// backend's deletes) so that each compaction's whole time is measured.
func compactLoop(ctx context.Context, c *clientv3.Client, every time.Duration) []compaction {
	var out []compaction
	t := time.NewTicker(every)
	defer t.Stop()
	var prev int64
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		resp, err := c.Get(ctx, "compact_rev_key")
		if err != nil {
			continue
		}
		if prev != 0 {
			s := time.Now()
			if _, err := c.Compact(ctx, prev, clientv3.WithCompactPhysical()); err == nil {
				out = append(out, compaction{Revisions: resp.Header.Revision - prev,
					MS: float64(time.Since(s).Microseconds()) / 1000})
				fmt.Printf("  compacted %d revisions in %v\n", resp.Header.Revision-prev, time.Since(s).Round(time.Millisecond))
			}
		}
		prev = resp.Header.Revision
	}
}

func summarize(rec *recorder, compactions []compaction, cfg config) map[string]any {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	byKind := map[string][]time.Duration{}
	bySec := map[int][]time.Duration{}
	var all []time.Duration
	for _, s := range rec.samples {
		byKind[s.kind] = append(byKind[s.kind], s.took)
		if s.kind == "watch delivery" {
			continue
		}
		bySec[int(s.at/time.Second)] = append(bySec[int(s.at/time.Second)], s.took)
		all = append(all, s.took)
	}
	writes := map[string]benchutil.Summary{}
	fmt.Printf("\n%-20s %8s %9s %9s %9s\n", "write", "count", "p50", "p99", "max")
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		s := benchutil.Summarize(byKind[k], 0)
		writes[k] = s
		fmt.Printf("%-20s %8d %7.1fms %7.1fms %7.1fms\n", k, s.N, s.P50, s.P99, s.Max)
	}
	total := benchutil.Summarize(all, cfg.dur)
	slow := 0
	for _, d := range bySec {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		if benchutil.Percentile(d, 99) > 100*time.Millisecond {
			slow++
		}
	}
	fmt.Printf("%-20s %8d %7.1fms %7.1fms %7.1fms  (%.0f writes/s)\n", "all", total.N, total.P50, total.P99, total.Max, total.PerSecond)
	fmt.Printf("seconds whose write p99 passed 100 ms: %d of %d\n", slow, len(bySec))
	res := map[string]any{
		"pods": cfg.pods, "nodes": cfg.nodes, "pods_replaced_per_second": cfg.podRate,
		"seconds": cfg.dur.Seconds(), "compact_interval_seconds": cfg.compactEvery.Seconds(), "gomaxprocs": runtime.GOMAXPROCS(0), "writes": writes, "all_writes": total,
		"seconds_over_100ms_p99": slow, "compactions": compactions, "busy_goroutines": cfg.busy, "watched": cfg.watch,
	}
	if len(compactions) > 0 {
		last := compactions[len(compactions)-1]
		res["compaction_revisions"], res["compaction_ms"] = last.Revisions, last.MS
	}
	for name, key := range map[string]string{
		"etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds": "compaction_pause_max_ms",
		"etcd_disk_backend_commit_duration_seconds":                     "backend_commit_max_ms",
		"etcd_disk_wal_fsync_duration_seconds":                          "wal_fsync_max_ms",
	} {
		if v, ok := histogramMax(name); ok {
			res[key] = v
			fmt.Printf("%s: %.0f ms (upper bound of the highest bucket used)\n", key, v)
		}
	}
	return res
}

// histogramMax is the upper bound, in ms, of the highest non-empty bucket
// of one of etcd's histograms in this process.
func histogramMax(name string) (float64, bool) {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		var prev uint64
		bound := 0.0
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() != prev {
				bound = b.GetUpperBound()
			}
			prev = b.GetCumulativeCount()
		}
		if strings.HasSuffix(name, "_seconds") {
			bound *= 1000
		}
		return bound, true
	}
	return 0, false
}

// fill stores n keys of size bytes, 32 at a time.
func fill(ctx context.Context, c *clientv3.Client, revs *revisions, n int, key func(int) string, size int) error {
	ch := make(chan int)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				resp, err := c.Put(ctx, key(i), value(size))
				if err != nil {
					errs <- err
					return
				}
				revs.set(key(i), resp.Header.Revision)
			}
		}()
	}
	var err error
loop:
	for i := 0; i < n; i++ {
		select {
		case ch <- i:
		case err = <-errs:
			break loop
		}
	}
	close(ch)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}

// spin works as a request handler does until ctx ends: about a
// millisecond of allocating work, a millisecond's wait, over and over. N
// of them ask for N/2 processors.
func spin(ctx context.Context) {
	var sink []byte
	for ctx.Err() == nil {
		deadline := time.Now().Add(time.Millisecond)
		for i := 0; time.Now().Before(deadline); i++ {
			b := make([]byte, 256)
			for j := range b {
				b[j] = byte(i + j)
			}
			if i%64 == 0 {
				sink = b
			}
		}
		time.Sleep(time.Millisecond)
	}
	_ = sink
}

// value is size bytes of random text, so the database holds as much as
// encoded objects of that size would: a stretch of a pool drawn once,
// from a random place, so the bench spends its CPU on etcd rather than
// on the random generator.
// It starts with the time it was made (Unix nanoseconds, 19 digits), for
// the watchers to measure delivery by.
func value(size int) string {
	b := make([]byte, max(size, stampLen))
	copy(b, strconv.FormatInt(time.Now().UnixNano(), 10))
	if n := len(b) - stampLen; n > 0 {
		off := rand.IntN(len(valuePool) - n + 1)
		copy(b[stampLen:], valuePool[off:off+n])
	}
	return string(b)
}

// valuePool is random text for value, larger than any value.
var valuePool = func() []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return b
}()

// revisions is the last revision the bench saw of each key it wrote.
type revisions struct {
	mu sync.Mutex
	m  map[string]int64
}

func (r *revisions) get(key string) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rev, ok := r.m[key]
	return rev, ok
}

func (r *revisions) drop(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

func (r *revisions) set(key string, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev > r.m[key] {
		r.m[key] = rev
	}
}

const stampLen = 19

// watchPrefixes are the prefixes the mix writes under; the API server's
// watch cache holds one watch on each.
var watchPrefixes = []string{"/registry/pods/", "/registry/leases/", "/registry/minions/", "/registry/replicasets/", "/registry/events/"}

// watchAll watches each prefix as the API server's watch cache does (from
// the current revision, with previous values and progress notifications)
// and records how long each put took to arrive, from its value's stamp.
func watchAll(ctx context.Context, c *clientv3.Client, rec *recorder, wg *sync.WaitGroup) {
	for _, prefix := range watchPrefixes {
		wch := c.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for resp := range wch {
				now := time.Now()
				for _, ev := range resp.Events {
					if ev.Type != clientv3.EventTypePut || len(ev.Kv.Value) < stampLen {
						continue
					}
					ns, err := strconv.ParseInt(string(ev.Kv.Value[:stampLen]), 10, 64)
					if err != nil {
						continue
					}
					rec.addTook("watch delivery", time.Unix(0, ns), now.Sub(time.Unix(0, ns)))
				}
			}
		}()
	}
}
