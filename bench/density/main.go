// Command density is a ClusterLoader2-style density run on one machine:
// a skiff server (API server, scheduler, controllers), NODES hollow nodes
// (the real kubelet on an in-memory runtime), then Deployments of 5, 30
// and 250 replicas created at a target pod rate until PODS_PER_NODE pods
// per node, waiting until every pod is Running. Before the first pod it
// measures what the idle nodes cost (the server's CPU over IDLE_SECONDS,
// 30, of heartbeats; IDLE_ONLY=1 stops there and saves that alone in
// bench/results/idle.json). It records the time to
// all Running, per-pod startup (first seen → Running on a watch), the API
// server's request latency per verb and resource (its own histogram,
// scraped before and after), server RSS and CPU, the etcd data size, and
// how long a full pod LIST takes with kubectl. Then, unless CHURN=0, the
// churn run: every Deployment rolled to a new template at the same rate,
// to all rollouts complete, with its own API latencies (saved under
// "churn_nodes_<N>"). Results go under
// "nodes_<N>" in bench/results/density.json, merged with earlier runs of
// other sizes. It never fails on timing.
//
// The server's RSS is printed every 30 s; past RSS_LIMIT_GIB (16) the run
// stops, so a runaway server cannot stall the machine. HOLLOW_GOGC and
// HOLLOW_GOMEMLIMIT set the hollow nodes' GOGC and GOMEMLIMIT (recorded
// with the results), to take their garbage collector's CPU off the
// machine the server runs on. HOLLOW_BIN (or -hollow-bin) runs the hollow
// nodes from another binary than the server's: with one fixed hollow
// binary, two server builds compare by the server's CPU per second of the
// hollow nodes', a ratio the machine's drift between runs cancels out of.
// HOLLOW_NICE runs the hollow nodes at that niceness (1-19): where the two
// cores are short, the server under test then gets them first, as a
// control plane on machines of its own would, and the hollow kubelets'
// share of pod startup grows instead (recorded with the results).
//
//	NODES=100 PODS_PER_NODE=30 RATE=50 go run ./bench/density [-short]
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

const ns = "density"

func main() {
	bin := flag.String("bin", benchutil.EnvOr("SKIFF_BIN", "bin/skiff"), "skiff binary")
	out := flag.String("out", "bench/results", "directory for JSON results")
	short := flag.Bool("short", os.Getenv("SHORT") != "", "a quick run (CI regression guard): 5 nodes, 4 pods each")
	hollowBin := flag.String("hollow-bin", os.Getenv("HOLLOW_BIN"), "skiff binary for the hollow nodes (default: -bin); a fixed one lets two server builds be compared by the server's CPU per second of the hollow nodes'")
	profileDir := flag.String("profile", os.Getenv("PROFILE"), "save CPU profiles (server and hollow nodes, over the idle window, 30 s from half the pods created and from halfway through the churn), the server's execution traces (5 s at three points of the churn), heap profiles (when all are Running) and the server's heap and goroutines at each 2 GiB of RSS in this directory")
	flag.Parse()
	cfg := config{Nodes: benchutil.EnvInt("NODES", "100"), PodsPerNode: benchutil.EnvInt("PODS_PER_NODE", "30"), Rate: benchutil.EnvInt("RATE", "50"),
		Churn: os.Getenv("CHURN") != "0", IdleSettle: 15 * time.Second, IdleWindow: time.Duration(benchutil.EnvInt("IDLE_SECONDS", "30")) * time.Second,
		IdleOnly: os.Getenv("IDLE_ONLY") != "", HollowNice: hollowNice()}
	if *short {
		cfg = config{Nodes: 5, PodsPerNode: 4, Rate: 50, Churn: true, IdleSettle: time.Second, IdleWindow: 3 * time.Second}
	}
	cfg.ProfileDir, cfg.HollowBin = *profileDir, *hollowBin
	if err := run(*bin, *out, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	Nodes, PodsPerNode, Rate int
	Churn                    bool // roll every Deployment once all pods run
	ProfileDir               string
	HollowBin                string // the hollow nodes' binary when not the server's
	HollowNice               int    // the hollow nodes' niceness (0: the bench's own)
	// IdleSettle and IdleWindow time the idle phase (idleCost); with
	// IdleOnly the run ends after it, saved as bench/results/idle.json.
	IdleSettle, IdleWindow time.Duration
	IdleOnly               bool
}

// deployments splits total pods as CL2's load test does: about half in
// small (5), a quarter in medium (30) and a quarter in big (250)
// Deployments, interleaved so that big ones do not all come last.
func deployments(total int) []int {
	var big, medium, small []int
	for left := total / 4; left >= 250; left -= 250 {
		big = append(big, 250)
	}
	for left := total/4 + (total/4)%250; left >= 30; left -= 30 {
		medium = append(medium, 30)
	}
	rest := total - 250*len(big) - 30*len(medium)
	for ; rest >= 5; rest -= 5 {
		small = append(small, 5)
	}
	if rest > 0 {
		small = append(small, rest)
	}
	var out []int
	for i := 0; len(big)+len(medium)+len(small) > 0; i++ {
		pick := func(s *[]int) {
			if len(*s) > 0 {
				out = append(out, (*s)[0])
				*s = (*s)[1:]
			}
		}
		if i%8 == 0 {
			pick(&big)
		}
		if i%2 == 0 {
			pick(&medium)
		}
		pick(&small)
	}
	return out
}

func run(bin, out string, cfg config) error {
	res := map[string]any{"nodes": cfg.Nodes, "pods_per_node": cfg.PodsPerNode, "target_rate": cfg.Rate}
	srv, stop, err := benchutil.StartInTemp(bin, "density", "--cluster-cidr", benchutil.ScaleClusterCIDR)
	if err != nil {
		return err
	}
	defer stop()
	_, cs, err := benchutil.Client(srv.Kubeconfig, 1000, true)
	if err != nil {
		return err
	}
	total := cfg.Nodes * cfg.PodsPerNode
	// Creation alone takes total/Rate; allow as long again and 15 minutes
	// more, and the same again for the churn run.
	createTime := time.Duration(float64(total) / float64(cfg.Rate) * float64(time.Second))
	budget := max(30*time.Minute, 2*createTime+20*time.Minute)
	if cfg.Churn {
		budget += 3*createTime + 15*time.Minute
	}
	ctx, cancel := benchutil.Ctx(budget)
	defer cancel()

	fmt.Printf("density: %d hollow nodes, %d pods per node, %d pods/s\n", cfg.Nodes, cfg.PodsPerNode, cfg.Rate)
	hollowArgs := []string{"hollow-nodes", "--count", strconv.Itoa(cfg.Nodes), "--kubeconfig", srv.Kubeconfig,
		"--max-pods", strconv.Itoa(max(110, cfg.PodsPerNode+10))}
	var prof *profiler
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
		hollowArgs = append(hollowArgs, "--profiling-address", addr)
		prof = &profiler{dir: cfg.ProfileDir, cs: cs, hollowURL: "http://" + addr}
	}
	hollowBin := cmp.Or(cfg.HollowBin, bin)
	hollow := exec.Command(hollowBin, hollowArgs...)
	if cfg.HollowNice != 0 {
		// nice(1) sets the niceness before exec, so every thread of the
		// hollow nodes has it (Linux's niceness is per thread).
		hollow = exec.Command("nice", append([]string{"-n", strconv.Itoa(cfg.HollowNice), hollowBin}, hollowArgs...)...)
	}
	hollowEnv := hollowGoEnv()
	hollow.Env = append(os.Environ(), hollowEnv...)
	hollow.Stdout, hollow.Stderr = srv.Log, srv.Log
	hollow.SysProcAttr = benchutil.ChildProcAttr()
	if err := hollow.Start(); err != nil {
		return err
	}
	var hollowOnce sync.Once
	stopHollow := func() {
		hollowOnce.Do(func() { _ = syscall.Kill(-hollow.Process.Pid, syscall.SIGTERM); _ = hollow.Wait() })
	}
	benchutil.OnInterrupt(stopHollow)
	defer stopHollow()
	src := metricsSource{cs: cs, etcdURL: srv.EtcdURL}
	go monitor(ctx, cancel, prof, src, srv.Cmd.Process.Pid, hollow.Process.Pid, int64(benchutil.EnvInt("RSS_LIMIT_GIB", "16"))<<30)
	t0 := time.Now()
	if err := waitNodesReady(ctx, cs, cfg.Nodes, 5*time.Minute); err != nil {
		return err
	}
	res["nodes_ready_ms"] = time.Since(t0).Milliseconds()
	fmt.Printf("  %d nodes Ready after %v\n", cfg.Nodes, time.Since(t0).Round(time.Millisecond))

	idle, err := idleCost(ctx, prof, src, srv.Cmd.Process.Pid, hollow.Process.Pid, cfg.Nodes, cfg.IdleSettle, cfg.IdleWindow)
	if err != nil {
		return err
	}
	res["idle"] = idle
	if cfg.IdleOnly {
		idle["nodes"] = cfg.Nodes
		idle["commit_time"] = time.Now().UTC().Format(time.RFC3339)
		return benchutil.Save(out, "idle", fmt.Sprintf("nodes_%d", cfg.Nodes), idle)
	}

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	before, err := scrape(ctx, src)
	if err != nil {
		return err
	}
	cpu0 := benchutil.CPUTicks(srv.Cmd.Process.Pid)
	hollowCPU0 := benchutil.CPUTicks(hollow.Process.Pid)
	w := newPodWatch()
	go w.run(ctx, cs)

	plan := deployments(total)
	profiled, profiledLate := false, false
	retries := 0
	start := time.Now()
	created := 0
	for i, replicas := range plan {
		if err := createWithRetries(ctx, cs, fmt.Sprintf("d%d-%d", replicas, i), int32(replicas), &retries); err != nil {
			return err
		}
		created += replicas
		if prof != nil && !profiled && created >= total/2 {
			profiled = true
			go prof.cpu(ctx, "create", 30*time.Second)
		}
		if prof != nil && !profiledLate && created >= total*9/10 {
			profiledLate = true
			go prof.cpu(ctx, "late", 30*time.Second)
		}
		// Pace on pods, not Deployments: the next one starts when the
		// pods so far are due at RATE per second.
		if due := start.Add(time.Duration(float64(created) / float64(cfg.Rate) * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
	}
	res["deployments"] = len(plan)
	res["create_retries"] = retries
	res["create_phase_ms"] = time.Since(start).Milliseconds()
	fmt.Printf("  %d Deployments (%d pods) created in %v\n", len(plan), total, time.Since(start).Round(time.Millisecond))
	if err := w.waitRunning(ctx, total, createTime+15*time.Minute); err != nil {
		prof.cpu(ctx, "stuck", 30*time.Second)
		prof.heap(ctx, "stuck")
		return err
	}
	elapsed := time.Since(start)
	res["pods"] = total
	res["time_to_all_running_ms"] = elapsed.Milliseconds()
	res["pods_per_second"] = float64(total) / elapsed.Seconds()
	lat := w.startupLatencies()
	res["pod_startup"] = benchutil.Summarize(lat, 0)
	res["pod_startup_samples_ms"] = downsample(lat, 500)
	res["pod_startup_by_minute"] = w.byMinute(start, w.seen, w.running)
	res["pod_scheduling"], res["pod_kubelet"] = w.stages()
	res["pod_scheduling_by_minute"] = w.byMinute(start, w.seen, w.scheduled)
	res["pod_kubelet_by_minute"] = w.byMinute(start, w.scheduled, w.running)
	res["server_cpu_seconds"] = float64(benchutil.CPUTicks(srv.Cmd.Process.Pid)-cpu0) / 100
	res["hollow_nodes_cpu_seconds"] = float64(benchutil.CPUTicks(hollow.Process.Pid)-hollowCPU0) / 100
	res["server_rss_bytes"] = benchutil.RSSBytes(srv.Cmd.Process.Pid)
	res["server_rss_file_bytes"] = benchutil.RSSFileBytes(srv.Cmd.Process.Pid)
	res["hollow_nodes_rss_bytes"] = benchutil.RSSBytes(hollow.Process.Pid)
	if cfg.HollowBin != "" {
		res["hollow_nodes_bin"] = benchutil.BinaryVersion(hollowBin)
		res["server_bin"] = benchutil.BinaryVersion(bin)
	}
	if cfg.HollowNice != 0 {
		res["hollow_nodes_nice"] = cfg.HollowNice
	}
	if len(hollowEnv) > 0 {
		res["hollow_nodes_go_env"] = strings.Join(hollowEnv, " ")
	}
	prof.heap(ctx, "running")
	fmt.Printf("  all %d pods Running after %v (%.0f pods/s)\n", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())

	after, err := scrape(ctx, src)
	if err != nil {
		return err
	}
	res["api_latency"] = latencies(before.api, after.api)
	res["etcd_latency"] = latencies(before.etcd, after.etcd)
	res["etcd_disk"] = diskSummary(before.disk, after.disk)
	res["queue_wait"] = latencies(before.queue, after.queue)
	res["api_failures"] = increases(before.failed, after.failed)
	res["etcd_db_bytes"] = benchutil.EtcdSize(srv.DataDir)
	res["lists"] = benchutil.KubectlPodLists(srv.Kubeconfig, total, 1)
	res["commit_time"] = time.Now().UTC().Format(time.RFC3339)

	printSummary(res)
	if err := benchutil.Save(out, "density", fmt.Sprintf("nodes_%d", cfg.Nodes), res); err != nil {
		return err
	}
	if !cfg.Churn {
		return nil
	}
	cpu1 := benchutil.CPUTicks(srv.Cmd.Process.Pid)
	hollowCPU1 := benchutil.CPUTicks(hollow.Process.Pid)
	c, err := churn(ctx, src, w, prof, plan, cfg.Rate, 2*createTime+15*time.Minute)
	if err != nil {
		return err
	}
	c["nodes"] = cfg.Nodes
	c["server_cpu_seconds"] = float64(benchutil.CPUTicks(srv.Cmd.Process.Pid)-cpu1) / 100
	c["hollow_nodes_cpu_seconds"] = float64(benchutil.CPUTicks(hollow.Process.Pid)-hollowCPU1) / 100
	c["server_rss_bytes"] = benchutil.RSSBytes(srv.Cmd.Process.Pid)
	c["server_rss_file_bytes"] = benchutil.RSSFileBytes(srv.Cmd.Process.Pid)
	c["hollow_nodes_rss_bytes"] = benchutil.RSSBytes(hollow.Process.Pid)
	c["commit_time"] = time.Now().UTC().Format(time.RFC3339)
	printSummary(c)
	return benchutil.Save(out, "density", fmt.Sprintf("churn_nodes_%d", cfg.Nodes), c)
}

func printSummary(res map[string]any) {
	keys := make([]string, 0, len(res))
	for k := range res {
		if k != "pod_startup_samples_ms" && !strings.HasSuffix(k, "_by_minute") && k != "api_latency" && k != "etcd_latency" && k != "queue_wait" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	fmt.Printf("\n%-28s %v\n", "MEASURE", "VALUE")
	for _, k := range keys {
		fmt.Printf("%-28s %v\n", k, res[k])
	}
	if byMin, ok := res["pod_startup_by_minute"].([]benchutil.Summary); ok {
		sched, _ := res["pod_scheduling_by_minute"].([]benchutil.Summary)
		kubelet, _ := res["pod_kubelet_by_minute"].([]benchutil.Summary)
		fmt.Printf("\n%-8s %8s %10s %10s %10s %14s %14s\n", "MINUTE", "PODS", "P50 ms", "P99 ms", "MAX ms", "SCHED P99 ms", "KUBELET P99 ms")
		for i, s := range byMin {
			var sp, kp float64
			if i < len(sched) {
				sp = sched[i].P99
			}
			if i < len(kubelet) {
				kp = kubelet[i].P99
			}
			fmt.Printf("%-8d %8d %10.0f %10.0f %10.0f %14.0f %14.0f\n", i, s.N, s.P50, s.P99, s.Max, sp, kp)
		}
	}
	printLatencies(res["api_latency"], "API (verb resource)")
	printLatencies(res["etcd_latency"], "etcd (operation type)")
	printLatencies(res["queue_wait"], "flow control wait (level schema)")
}

// printLatencies prints a table of latency summaries under title.
func printLatencies(v any, title string) {
	lat, ok := v.(map[string]histSummary)
	if !ok {
		return
	}
	names := make([]string, 0, len(lat))
	for k := range lat {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Printf("\n%-36s %8s %10s %10s\n", title, "COUNT", "P50", "P99")
	for _, k := range names {
		s := lat[k]
		fmt.Printf("%-36s %8d %8.1fms %8.1fms\n", k, s.Count, s.P50, s.P99)
	}
}

func waitNodesReady(ctx context.Context, cs kubernetes.Interface, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ready := 0
	for time.Now().Before(deadline) {
		if r, err := readyNodes(ctx, cs); err == nil {
			if ready = r; ready >= n {
				return nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("only %d of %d nodes Ready after %v", ready, n, timeout)
}

// createWithRetries creates a Deployment, retrying what a client should
// retry (429, 5xx, timeouts) a few times; each retry is counted, and a
// Deployment an answered-with-an-error create made anyway is taken.
func createWithRetries(ctx context.Context, cs kubernetes.Interface, name string, replicas int32, retries *int) error {
	for attempt := 0; ; attempt++ {
		err := createDeployment(ctx, cs, name, replicas)
		switch {
		case err == nil, attempt > 0 && apierrors.IsAlreadyExists(err):
			return nil
		case attempt < 5 && (apierrors.IsInternalError(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
			apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err)):
			*retries++
			fmt.Fprintf(os.Stderr, "  create %s: %v (retrying)\n", name, err)
			time.Sleep(time.Second)
		default:
			return err
		}
	}
}

func createDeployment(ctx context.Context, cs kubernetes.Interface, name string, replicas int32) error {
	labels := map[string]string{"app": name, "group": "density"}
	zero := int64(0)
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero,
					Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi")}}}}},
			},
		},
	}, metav1.CreateOptions{})
	return err
}

// podWatch records when each pod was first seen, first seen bound to a
// node and first seen Running: its startup, split into the scheduler's
// part (seen → bound) and the kubelet's (bound → Running).
type podWatch struct {
	mu        sync.Mutex
	seen      map[string]time.Time
	scheduled map[string]time.Time
	running   map[string]time.Time
	signal    chan struct{}
}

func newPodWatch() *podWatch {
	return &podWatch{seen: map[string]time.Time{}, scheduled: map[string]time.Time{}, running: map[string]time.Time{},
		signal: make(chan struct{}, 1)}
}

func (p *podWatch) run(ctx context.Context, cs kubernetes.Interface) {
	rv := ""
	for ctx.Err() == nil {
		w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = pod.ResourceVersion
			now := time.Now()
			p.mu.Lock()
			if _, ok := p.seen[pod.Name]; !ok {
				p.seen[pod.Name] = now
			}
			if _, ok := p.scheduled[pod.Name]; !ok && pod.Spec.NodeName != "" {
				p.scheduled[pod.Name] = now
			}
			if _, ok := p.running[pod.Name]; !ok && pod.Status.Phase == corev1.PodRunning {
				p.running[pod.Name] = now
			}
			p.mu.Unlock()
			select {
			case p.signal <- struct{}{}:
			default:
			}
		}
	}
}

func (p *podWatch) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.running)
}

func (p *podWatch) waitRunning(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for p.count() < n {
		select {
		case <-p.signal:
		case <-tick.C:
			fmt.Printf("  %d of %d pods Running\n", p.count(), n)
		case <-deadline:
			return fmt.Errorf("only %d of %d pods Running after %v", p.count(), n, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *podWatch) startupLatencies() []time.Duration {
	return p.startupLatenciesSince(time.Time{})
}

// startupLatenciesSince is startupLatencies of the pods first seen after t.
func (p *podWatch) startupLatenciesSince(t time.Time) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]time.Duration, 0, len(p.running))
	for name, r := range p.running {
		if seen := p.seen[name]; seen.After(t) {
			out = append(out, r.Sub(seen))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// byMinute summarizes the span from → to of each pod (both maps are
// p's) by the minute since start in which the pod was first seen: where in
// a run the slow starts are.
func (p *podWatch) byMinute(start time.Time, from, to map[string]time.Time) []benchutil.Summary {
	p.mu.Lock()
	var byMin [][]time.Duration
	for name, end := range to {
		seen, begin := p.seen[name], from[name]
		if seen.Before(start) || begin.IsZero() {
			continue
		}
		m := int(seen.Sub(start) / time.Minute)
		for len(byMin) <= m {
			byMin = append(byMin, nil)
		}
		byMin[m] = append(byMin[m], end.Sub(begin))
	}
	p.mu.Unlock()
	out := make([]benchutil.Summary, len(byMin))
	for i, d := range byMin {
		out[i] = benchutil.Summarize(d, 0)
	}
	return out
}

// stages summarizes the scheduler's part (seen → bound) and the kubelet's
// part (bound → Running) of every pod's startup.
func (p *podWatch) stages() (scheduling, kubelet benchutil.Summary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s, k []time.Duration
	for name, r := range p.running {
		if b, ok := p.scheduled[name]; ok {
			s = append(s, b.Sub(p.seen[name]))
			k = append(k, r.Sub(b))
		}
	}
	return benchutil.Summarize(s, 0), benchutil.Summarize(k, 0)
}

// downsample keeps at most n evenly spaced samples of sorted d (in ms),
// always including the largest: enough for a CDF, small in the JSON.
func downsample(d []time.Duration, n int) []float64 {
	var out []float64
	if len(d) == 0 {
		return out
	}
	step := max(1, len(d)/n)
	for i := 0; i < len(d); i += step {
		out = append(out, float64(d[i].Microseconds())/1000)
	}
	if (len(d)-1)%step != 0 {
		out = append(out, float64(d[len(d)-1].Microseconds())/1000)
	}
	return out
}

// hollowNice is HOLLOW_NICE, 0 (the bench's own niceness) when unset;
// anything but 0-19 stops the run.
func hollowNice() int {
	v := os.Getenv("HOLLOW_NICE")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 19 {
		fmt.Fprintln(os.Stderr, "bench: HOLLOW_NICE must be a niceness from 0 to 19")
		os.Exit(2)
	}
	return n
}

// hollowGoEnv is what HOLLOW_GOGC and HOLLOW_GOMEMLIMIT set for the
// hollow nodes' Go runtime, as GOGC and GOMEMLIMIT (nothing when unset:
// Go's defaults). The hollow nodes stand in for machines of their own
// but share this one's cores with the server under test, and part of
// their CPU is their garbage collector's: HOLLOW_GOGC=400
// HOLLOW_GOMEMLIMIT=7GiB took 10% off their CPU per unit of the server's
// at 1,000 nodes and 20,000 pods, for twice their memory.
func hollowGoEnv() []string {
	var env []string
	if v := os.Getenv("HOLLOW_GOGC"); v != "" {
		env = append(env, "GOGC="+v)
	}
	if v := os.Getenv("HOLLOW_GOMEMLIMIT"); v != "" {
		env = append(env, "GOMEMLIMIT="+v)
	}
	return env
}
