// Command lists measures reads at scale, the "lists" runs of the scale
// issue: a full server (API server, controllers, scheduler) holding PODS
// pods on NODES nodes, then
//
//   - `kubectl get pods -A` as a user runs it (chunks of 500, a table),
//     with --chunk-size=0, and a raw resourceVersion=0 list, each timed;
//   - the same Table requests kubectl makes, read but not decoded: the
//     server's share of kubectl's time; and the one Table again from
//     127.0.0.2, which the server gzips as it would for a client on
//     another machine (the others are on 127.0.0.1, which it does not);
//   - every node's kubelet reading its pods at once, as after a server
//     restart: a watch-list (sendInitialEvents) per node with a
//     spec.nodeName field selector, what client-go's reflectors send;
//   - a client-go protobuf LIST of every pod, consistent and at rv=0;
//   - WATCHERS concurrent watches of every pod (on separate connections,
//     as separate clients would hold them), then a burst of pod updates:
//     how long each takes to reach every watcher, and what the watchers
//     cost the server in memory.
//
// The pods are created bound to Node objects that exist (so the scheduler
// and the pod garbage collector leave them be) with the status a kubelet
// would write, so they list and print as running pods do; the nodes do
// not heartbeat, so the server runs with a long node monitor grace
// period. Server RSS and CPU are recorded throughout. Tables on stdout,
// JSON in bench/results/lists.json; it never fails on timing.
//
//	PODS=150000 NODES=5000 WATCHERS=1000 go run ./bench/lists [-short]
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

const namespaces = 50

type config struct {
	Pods, Nodes, Watchers, Updates int
	Hold                           bool
}

func main() {
	bin := flag.String("bin", benchutil.EnvOr("SKIFF_BIN", "bin/skiff"), "skiff binary")
	out := flag.String("out", "bench/results", "directory for JSON results")
	short := flag.Bool("short", os.Getenv("SHORT") != "", "a quick run (CI regression guard): 2,000 pods, 50 watchers")
	hold := flag.Bool("hold", false, "after filling, print the kubeconfig and wait for Ctrl-C instead of measuring (to investigate by hand)")
	flag.Parse()
	cfg := config{Hold: *hold, Pods: benchutil.EnvInt("PODS", "150000"), Nodes: benchutil.EnvInt("NODES", "5000"), Watchers: benchutil.EnvInt("WATCHERS", "1000"), Updates: benchutil.EnvInt("UPDATES", "100")}
	if *short {
		cfg = config{Pods: 2000, Nodes: 50, Watchers: 50, Updates: 20}
	}
	if err := run(*bin, *out, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin, out string, cfg config) error {
	// Clients on 127.0.0.1 (kubectl, client-go) get no gzip, as loopback
	// clients by default; the client on 127.0.0.2 stands for a remote one.
	srv, stop, err := benchutil.StartInTemp(bin, "lists", "--node-monitor-grace-period", "24h", "--cluster-cidr", benchutil.ScaleClusterCIDR,
		"--disable-compression-for-client-ips", "127.0.0.1/32")
	if err != nil {
		return err
	}
	defer stop()
	rc, cs, err := benchutil.Client(srv.Kubeconfig, 5000, true)
	if err != nil {
		return err
	}
	ctx, cancel := benchutil.Ctx(90 * time.Minute)
	defer cancel()
	res := map[string]any{"pods": cfg.Pods, "nodes": cfg.Nodes, "watchers": cfg.Watchers}
	pid := srv.Cmd.Process.Pid
	res["server_rss_idle_bytes"] = benchutil.RSSBytes(pid)

	fmt.Printf("lists: %d pods on %d nodes, %d watchers\n", cfg.Pods, cfg.Nodes, cfg.Watchers)
	nodes := benchutil.Measure(cfg.Nodes, 32, func(i int) error { return createNode(ctx, cs, i) })
	fmt.Printf("  %d nodes created (%.0f/s)\n", cfg.Nodes, nodes.PerSecond)
	for i := range namespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i)}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	cpu0 := benchutil.CPUTicks(pid)
	var done atomic.Int64
	t0 := time.Now()
	stopProgress := progress(func() string { return fmt.Sprintf("%d of %d pods", done.Load(), cfg.Pods) })
	create := benchutil.Measure(cfg.Pods, 64, func(i int) error {
		defer done.Add(1)
		return createPod(ctx, cs, i, cfg.Nodes)
	})
	stopProgress()
	res["create_pods_per_second"] = create.PerSecond
	res["create_and_status"] = create
	res["create_server_cpu_seconds"] = float64(benchutil.CPUTicks(pid)-cpu0) / 100
	fmt.Printf("  %d pods created and Running in %v (%.0f/s, p99 %.0f ms per pod)\n", cfg.Pods, time.Since(t0).Round(time.Second), create.PerSecond, create.P99)
	time.Sleep(5 * time.Second) // let controllers catch up before measuring memory
	res["server_rss_bytes"] = benchutil.RSSBytes(pid)
	fmt.Printf("  server RSS %d MiB\n", benchutil.RSSBytes(pid)>>20)

	relists, err := kubeletRelists(ctx, cs, cfg, pid)
	if err != nil {
		return err
	}
	res["kubelet_relists"] = relists

	if cfg.Hold {
		fmt.Printf("  holding: KUBECONFIG=%s (Ctrl-C ends)\n", srv.Kubeconfig)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		return nil
	}
	lists := map[string]any{}
	for _, c := range []struct{ key, rv string }{{"clientgo_list_all_consistent", ""}, {"clientgo_list_all_rv0", "0"}} {
		var samples []time.Duration
		for range 3 {
			t := time.Now()
			l, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: c.rv})
			if err != nil {
				return fmt.Errorf("%s: %w", c.key, err)
			}
			if len(l.Items) != cfg.Pods {
				return fmt.Errorf("%s: %d pods, want %d", c.key, len(l.Items), cfg.Pods)
			}
			samples = append(samples, time.Since(t))
		}
		lists[c.key] = benchutil.Summarize(samples, 0)
	}
	runs := 3
	if cfg.Pods >= 50000 {
		runs = 1 // each takes most of a minute
	}
	for k, v := range benchutil.KubectlPodLists(srv.Kubeconfig, cfg.Pods, runs) {
		lists[k] = v
	}
	for _, f := range []struct {
		chunk  int64
		remote bool
	}{{500, false}, {0, false}, {0, true}} {
		key := fmt.Sprintf("table_fetch_chunk%d", f.chunk)
		if f.remote {
			key += "_gzip"
		}
		cpu := benchutil.CPUTicks(pid)
		d, rows, wire, err := fetchTable(ctx, rc, f.chunk, f.remote)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if rows != cfg.Pods {
			return fmt.Errorf("%s: %d rows, want %d", key, rows, cfg.Pods)
		}
		lists[key+"_ms"] = float64(d.Microseconds()) / 1000
		lists[key+"_bytes"] = wire
		lists[key+"_server_cpu_s"] = float64(benchutil.CPUTicks(pid)-cpu) / 100
	}
	res["lists"] = lists
	res["server_rss_after_lists_bytes"] = benchutil.RSSBytes(pid)

	w, err := watchers(ctx, rc, cs, cfg, pid)
	if err != nil {
		return err
	}
	res["watch"] = w
	res["etcd_db_bytes"] = benchutil.EtcdSize(srv.DataDir)

	printSummary(res)
	return benchutil.Save(out, "lists", fmt.Sprintf("pods_%d", cfg.Pods), res)
}

func nsName(i int) string { return fmt.Sprintf("lists-%d", i) }

// relistWorkers is how many kubelets' reads are in flight at once.
const relistWorkers = 500

// kubeletRelists has every node's kubelet read its pods, relistWorkers at
// a time, as kubelets do when their watches break together (a restarted
// or overloaded server): a watch with sendInitialEvents and the node's
// spec.nodeName field selector, read to the initial-events-end bookmark,
// which is what client-go's reflectors send (WatchListClient, on by
// default since 1.35). It records each read's time, the wall time, and
// the server CPU they took; a read with the wrong pods is an error.
func kubeletRelists(ctx context.Context, cs kubernetes.Interface, cfg config, pid int) (map[string]any, error) {
	var failed atomic.Int64
	var firstErr atomic.Value
	cpu0 := benchutil.CPUTicks(pid)
	t0 := time.Now()
	sum := benchutil.Measure(cfg.Nodes, relistWorkers, func(i int) error {
		err := relistNode(ctx, cs, i, cfg)
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(err)
		}
		return err
	})
	wall, cpu := time.Since(t0), float64(benchutil.CPUTicks(pid)-cpu0)/100
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("kubelet relists: %d of %d failed; the first: %v", n, cfg.Nodes, firstErr.Load())
	}
	fmt.Printf("  %d kubelets' watch-lists of their pods: %v (p50 %.0f ms, p99 %.0f ms), server CPU %.1f s\n",
		cfg.Nodes, wall.Round(time.Millisecond), sum.P50, sum.P99, cpu)
	return map[string]any{"latency": sum, "wall_ms": float64(wall.Microseconds()) / 1000, "server_cpu_seconds": cpu}, nil
}

// relistNode reads node i's pods as a kubelet's reflector does and checks
// that they are the pods createPod put there.
func relistNode(ctx context.Context, cs kubernetes.Interface, i int, cfg config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	node := fmt.Sprintf("list-node-%d", i)
	want := cfg.Pods / cfg.Nodes
	if i < cfg.Pods%cfg.Nodes {
		want++
	}
	initial := true
	w, err := cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node,
		SendInitialEvents: &initial, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
	if err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	defer w.Stop()
	got := 0
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added:
			if p, ok := ev.Object.(*corev1.Pod); !ok || p.Spec.NodeName != node {
				return fmt.Errorf("%s: got %T %v", node, ev.Object, ev.Object)
			}
			got++
		case watch.Bookmark:
			if m, err := meta.Accessor(ev.Object); err == nil && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
				if got != want {
					return fmt.Errorf("%s: %d pods, want %d", node, got, want)
				}
				return nil
			}
		case watch.Error:
			return fmt.Errorf("%s: %w", node, apierrors.FromObject(ev.Object))
		}
	}
	return fmt.Errorf("%s: watch ended after %d pods, before the initial-events-end bookmark", node, got)
}

// progress prints f every 10 s until the returned stop is called.
func progress(f func() string) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Println("  " + f())
			}
		}
	}()
	return func() { close(done) }
}

func createNode(ctx context.Context, cs kubernetes.Interface, i int) error {
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("list-node-%d", i), Labels: map[string]string{"kubernetes.io/hostname": fmt.Sprintf("list-node-%d", i)}}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	n.Status = corev1.NodeStatus{
		Capacity:    corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")},
		Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")},
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// createPod creates pod i bound to a node and gives it a kubelet's
// Running status.
func createPod(ctx context.Context, cs kubernetes.Interface, i, nodes int) error {
	ns := nsName(i % namespaces)
	app := fmt.Sprintf("app-%d", i/250)
	p, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Labels: map[string]string{"app": app, "group": "lists"}},
		Spec: corev1.PodSpec{NodeName: fmt.Sprintf("list-node-%d", i%nodes),
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi")}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	ip := fmt.Sprintf("10.42.%d.%d", (i/250)%256, i%250+2)
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: "172.30.0.2", PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now,
		QOSClass: corev1.PodQOSBurstable,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, Image: "registry.k8s.io/pause:3.10",
			ImageID:     "registry.k8s.io/pause@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a",
			ContainerID: fmt.Sprintf("containerd://%064x", i), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}},
	}
	_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}

// fetchTable makes the requests `kubectl get pods -A` makes (a Table of
// every pod, in pages of chunk rows; 0 is one page) and reads the whole
// answer without decoding the rows: the server's share of kubectl's time.
// remote sends them from 127.0.0.2, which the server gzips for (as it
// would for a client on another machine), and unzips what it reads. It
// returns the time, the number of rows and the bytes received.
func fetchTable(ctx context.Context, rc *rest.Config, chunk int64, remote bool) (time.Duration, int, int64, error) {
	if remote {
		rc = rest.CopyConfig(rc)
		rc.DisableCompression = true // the request below asks for gzip itself, and reads what arrives
		rc.Dial = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext
	}
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return 0, 0, 0, err
	}
	t0 := time.Now()
	rows, next, wire := 0, "", int64(0)
	for {
		q := url.Values{"limit": {strconv.FormatInt(chunk, 10)}}
		if next != "" {
			q.Set("continue", next)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rc.Host+"/api/v1/pods?"+q.Encode(), nil)
		if err != nil {
			return 0, 0, 0, err
		}
		req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
		if remote {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, 0, 0, err
		}
		n, cont, read, err := readTable(resp)
		resp.Body.Close()
		if err != nil {
			return 0, 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, 0, fmt.Errorf("status %s", resp.Status)
		}
		rows += n
		wire += read
		if next = cont; next == "" {
			return time.Since(t0), rows, wire, nil
		}
	}
}

// readTable scans a Table response, unzipped if it is gzipped, and
// counts the bytes that arrived.
func readTable(resp *http.Response) (rows int, cont string, wire int64, err error) {
	body := &countingReader{r: resp.Body}
	var r io.Reader = body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return 0, "", 0, err
		}
		r = zr
	}
	rows, cont, err = scanTable(r)
	return rows, cont, body.n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// scanTable reads a JSON Table without decoding its rows, so the time
// is the server's: the metadata (which comes first) for the continue
// token, then the rows counted by the key each one starts with.
func scanTable(r io.Reader) (rows int, cont string, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, err := br.ReadSlice('[') // through "columnDefinitions":[ or "rows":[
	if err != nil {
		return 0, "", fmt.Errorf("reading the Table's head: %w", err)
	}
	var meta struct {
		Continue string `json:"continue"`
	}
	if i := bytes.Index(head, []byte(`"metadata":`)); i >= 0 {
		// One value: the metadata object, whole in the head.
		if err := json.NewDecoder(bytes.NewReader(head[i+len(`"metadata":`):])).Decode(&meta); err != nil {
			return 0, "", fmt.Errorf("the Table's metadata: %w", err)
		}
	}
	key := []byte(`{"cells":`)
	buf := make([]byte, 1<<20)
	carry := 0
	for {
		n, rerr := br.Read(buf[carry:])
		chunk := buf[:carry+n]
		rows += bytes.Count(chunk, key)
		// Keep a possible start of the key for the next read.
		carry = min(len(key)-1, len(chunk))
		copy(buf, chunk[len(chunk)-carry:])
		if rerr == io.EOF {
			return rows, meta.Continue, nil
		}
		if rerr != nil {
			return 0, "", rerr
		}
	}
}

// watchers opens cfg.Watchers watches of all pods, spread over separate
// connections, then patches cfg.Updates pods one after another and
// measures, per update and watcher, the time from the patch's response
// to the event's arrival.
func watchers(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, cfg config, pid int) (map[string]any, error) {
	const perConn = 50
	rssBefore := benchutil.RSSBytes(pid)
	list, err := cs.CoreV1().Pods(nsName(0)).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, err
	}
	rv := list.ResourceVersion
	var clients []kubernetes.Interface
	for i := 0; i < cfg.Watchers; i += perConn {
		c := rest.CopyConfig(rc)
		// A config with its own dialer gets its own transport, so each
		// group of watchers has a connection of its own.
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		c.Dial = d.DialContext
		cl, err := kubernetes.NewForConfig(c)
		if err != nil {
			return nil, err
		}
		clients = append(clients, cl)
	}
	sent := make([]time.Time, cfg.Updates)
	var sentMu sync.Mutex
	var lat []time.Duration
	var latMu sync.Mutex
	var received atomic.Int64
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	var wg sync.WaitGroup
	t0 := time.Now()
	opened := make(chan error, cfg.Watchers)
	for i := range cfg.Watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := clients[i/perConn].CoreV1().Pods("").Watch(wctx, metav1.ListOptions{ResourceVersion: rv, LabelSelector: "group=lists"})
			opened <- err
			if err != nil {
				return
			}
			defer w.Stop()
			seen := 0
			for ev := range w.ResultChan() {
				if ev.Type != watch.Modified {
					continue
				}
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				k, err := strconv.Atoi(p.Labels["update"])
				if err != nil {
					continue
				}
				now := time.Now()
				sentMu.Lock()
				at := sent[k]
				sentMu.Unlock()
				latMu.Lock()
				lat = append(lat, now.Sub(at))
				latMu.Unlock()
				received.Add(1)
				if seen++; seen == cfg.Updates {
					return
				}
			}
		}()
	}
	for range cfg.Watchers {
		if err := <-opened; err != nil {
			return nil, fmt.Errorf("opening watch: %w", err)
		}
	}
	openTime := time.Since(t0)
	time.Sleep(2 * time.Second)
	rssWatching := benchutil.RSSBytes(pid)
	fmt.Printf("  %d watches open in %v; server RSS +%d MiB\n", cfg.Watchers, openTime.Round(time.Millisecond), (rssWatching-rssBefore)>>20)
	u0 := time.Now()
	for k := range cfg.Updates {
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{"update":"%d"}}}`, k)
		sentMu.Lock()
		sent[k] = time.Now()
		sentMu.Unlock()
		if _, err := cs.CoreV1().Pods(nsName(k%namespaces)).Patch(ctx, fmt.Sprintf("pod-%d", k), types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return nil, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := int64(cfg.Watchers * cfg.Updates)
	deadline := time.Now().Add(2 * time.Minute)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	allDelivered := time.Since(u0)
	wcancel()
	wg.Wait()
	if got := received.Load(); got < want {
		return nil, fmt.Errorf("watchers received %d of %d events", got, want)
	}
	latMu.Lock()
	defer latMu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return map[string]any{
		"watchers":                  cfg.Watchers,
		"updates":                   cfg.Updates,
		"open_ms":                   float64(openTime.Microseconds()) / 1000,
		"delivery_latency":          benchutil.Summarize(lat, 0),
		"all_delivered_ms":          float64(allDelivered.Microseconds()) / 1000,
		"server_rss_watching_delta": rssWatching - rssBefore,
	}, nil
}

func printSummary(res map[string]any) {
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("\n%-32s %v\n", "MEASURE", "VALUE")
	for _, k := range keys {
		switch v := res[k].(type) {
		case map[string]any:
			sub := make([]string, 0, len(v))
			for s := range v {
				sub = append(sub, s)
			}
			sort.Strings(sub)
			for _, s := range sub {
				fmt.Printf("%-32s %+v\n", k+"."+s, v[s])
			}
		default:
			fmt.Printf("%-32s %v\n", k, v)
		}
	}
}
