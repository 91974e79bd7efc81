// Command scheduler measures skiff's scheduler through the real API
// server, the way upstream's scheduler_perf does: nodes and pending pods
// are created first, then `skiff scheduler` starts as its own process and
// the time until the last binding is seen on a watch gives the throughput.
// A second phase creates pods at a steady rate while the scheduler runs
// and reports create→bound latency per pod. Tables on stdout, JSON in
// bench/results/scheduler.json. It never fails on timing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

var profileDir string

type scenario struct {
	Nodes, Pods int
	// SteadyPods are created at SteadyRate per second once the batch is
	// bound, for the latency phase.
	SteadyPods, SteadyRate int
}

type result struct {
	Nodes              int               `json:"nodes"`
	Pods               int               `json:"pods"`
	PodsPerSecond      float64           `json:"pods_per_second"`
	FromFirstBindingPS float64           `json:"pods_per_second_after_first_binding"`
	FirstBindingAfter  time.Duration     `json:"first_binding_after_ns"`
	Elapsed            time.Duration     `json:"elapsed_ns"`
	SteadyRate         int               `json:"steady_rate_per_second"`
	Latency            benchutil.Summary `json:"create_to_bound_latency"`
	SchedulerRSS       int64             `json:"scheduler_rss_bytes"`
	// SchedulerCPU and ServerCPU are the cores each process used on
	// average from the scheduler's start to the last binding of the batch.
	SchedulerCPU   float64 `json:"scheduler_cores_batch"`
	ServerCPU      float64 `json:"server_cores_batch"`
	NodesUsed      int     `json:"nodes_used"`
	MaxPodsPerNode int     `json:"max_pods_per_node"`
}

func main() {
	bin := flag.String("bin", benchutil.EnvOr("SKIFF_BIN", "bin/skiff"), "skiff binary")
	out := flag.String("out", "bench/results", "directory for JSON results")
	short := flag.Bool("short", false, "a quick run (CI regression guard): small counts")
	flag.StringVar(&profileDir, "profile", "", "save CPU profiles of the scheduler and the server during each batch into this directory")
	flag.Parse()
	scenarios := []scenario{{500, 1000, 1000, 200}, {5000, 10000, 2000, 200}}
	if *short {
		scenarios = []scenario{{50, 100, 50, 100}}
	}
	report := benchutil.NewReport("scheduler")
	var results []result
	for _, sc := range scenarios {
		r, err := run(*bin, sc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		results = append(results, r)
		report.Results[fmt.Sprintf("nodes_%d_pods_%d", sc.Nodes, sc.Pods)] = r
	}
	fmt.Printf("\n%-7s %-7s %-10s %-14s %-10s %-12s %-12s %-10s %-11s %-11s\n", "NODES", "PODS", "PODS/S", "PODS/S(BOUND)", "ELAPSED",
		"LAT P50", "LAT P99", "SCHED RSS", "SCHED CPU", "SERVER CPU")
	for _, r := range results {
		fmt.Printf("%-7d %-7d %-10.0f %-14.0f %-10v %-12v %-12v %-10s %-11s %-11s\n", r.Nodes, r.Pods, r.PodsPerSecond, r.FromFirstBindingPS,
			r.Elapsed.Round(time.Millisecond), fmt.Sprintf("%.1f ms", r.Latency.P50), fmt.Sprintf("%.1f ms", r.Latency.P99),
			fmt.Sprintf("%d MiB", r.SchedulerRSS>>20), fmt.Sprintf("%.2f cores", r.SchedulerCPU), fmt.Sprintf("%.2f cores", r.ServerCPU))
	}
	path, err := report.Write(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Println("results:", path)
}

func run(bin string, sc scenario) (result, error) {
	res := result{Nodes: sc.Nodes, Pods: sc.Pods, SteadyRate: sc.SteadyRate}
	srv, stop, err := benchutil.StartInTemp(bin, "sched", "--disable-scheduler", "--disable-controller-manager")
	if err != nil {
		return res, err
	}
	defer stop()
	_, cs, err := benchutil.Client(srv.Kubeconfig, 100000, true)
	if err != nil {
		return res, err
	}
	ctx, cancel := benchutil.Ctx(30 * time.Minute)
	defer cancel()

	fmt.Printf("%d nodes, %d pods: creating nodes...\n", sc.Nodes, sc.Pods)
	nodes := benchutil.Measure(sc.Nodes, 16, func(i int) error { return createNode(ctx, cs, i) })
	fmt.Printf("  nodes created at %.0f/s; creating pods...\n", nodes.PerSecond)
	pods := benchutil.Measure(sc.Pods, 16, func(i int) error { return createPod(ctx, cs, fmt.Sprintf("batch-%d", i)) })
	fmt.Printf("  pods created at %.0f/s\n", pods.PerSecond)

	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return res, err
	}
	b := newBindWatch()
	go b.run(ctx, cs, list.ResourceVersion)

	metricsAddr := ""
	if profileDir != "" {
		metricsAddr = fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
	}
	start := time.Now()
	srvTicks := benchutil.CPUTicks(srv.Cmd.Process.Pid)
	sched := exec.Command(bin, "scheduler", "--kubeconfig", srv.Kubeconfig, "--metrics-bind-address="+metricsAddr)
	sched.Stdout, sched.Stderr = srv.Log, srv.Log
	sched.SysProcAttr = benchutil.ChildProcAttr()
	if err := sched.Start(); err != nil {
		return res, err
	}
	defer func() { _ = syscall.Kill(-sched.Process.Pid, syscall.SIGKILL); _ = sched.Wait() }()
	if profileDir != "" {
		go profileBatch(ctx, cs, metricsAddr, sc)
	}
	if err := b.waitBound(ctx, sc.Pods, 10*time.Minute); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	res.SchedulerCPU = float64(benchutil.CPUTicks(sched.Process.Pid)) / 100 / res.Elapsed.Seconds()
	res.ServerCPU = float64(benchutil.CPUTicks(srv.Cmd.Process.Pid)-srvTicks) / 100 / res.Elapsed.Seconds()
	res.PodsPerSecond = float64(sc.Pods) / res.Elapsed.Seconds()
	first, last := b.span()
	res.FirstBindingAfter = first.Sub(start)
	res.FromFirstBindingPS = float64(sc.Pods) / last.Sub(first).Seconds()
	res.NodesUsed, res.MaxPodsPerNode = b.spread()

	// Steady phase: create→bound latency per pod at a fixed rate.
	created := make([]time.Time, sc.SteadyPods)
	tick := time.NewTicker(time.Second / time.Duration(sc.SteadyRate))
	var wg sync.WaitGroup
	for i := 0; i < sc.SteadyPods; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			created[i] = time.Now()
			if err := createPod(ctx, cs, fmt.Sprintf("steady-%d", i)); err != nil {
				fmt.Fprintln(os.Stderr, "create:", err)
			}
		}(i)
	}
	tick.Stop()
	wg.Wait()
	if err := b.waitBound(ctx, sc.Pods+sc.SteadyPods, 5*time.Minute); err != nil {
		return res, err
	}
	lat := make([]time.Duration, 0, sc.SteadyPods)
	for i, t0 := range created {
		if t1, ok := b.boundAt(fmt.Sprintf("steady-%d", i)); ok {
			lat = append(lat, t1.Sub(t0))
		}
	}
	res.Latency = benchutil.Summarize(lat, 0)
	res.SchedulerRSS = benchutil.RSSBytes(sched.Process.Pid)
	return res, nil
}

// profileBatch saves CPU profiles of the scheduler (on its metrics
// address) and of the server (its /debug/pprof/) over most of the batch:
// from 1 s after the scheduler starts, for a time that fits in a batch
// bound at 1,000 pods/s.
func profileBatch(ctx context.Context, cs kubernetes.Interface, schedAddr string, sc scenario) {
	time.Sleep(time.Second)
	secs := fmt.Sprint(max(1, sc.Pods/1000-1))
	tag := fmt.Sprintf("nodes-%d", sc.Nodes)
	done := make(chan struct{})
	go func() {
		defer close(done)
		data, err := benchutil.ServerProfile(ctx, cs, "/debug/pprof/profile?seconds="+secs)
		benchutil.SaveProfile(profileDir, "server-cpu-"+tag, data, err)
	}()
	data, err := benchutil.HTTPGet(ctx, "http://"+schedAddr+"/debug/pprof/profile?seconds="+secs)
	benchutil.SaveProfile(profileDir, "scheduler-cpu-"+tag, data, err)
	<-done
}

func createNode(ctx context.Context, cs kubernetes.Interface, i int) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	name := fmt.Sprintf("node-%05d", i)
	n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name,
			corev1.LabelTopologyZone: fmt.Sprintf("zone-%d", i%3)}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	n.Status = corev1.NodeStatus{Capacity: capacity, Allocatable: capacity,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: now, LastTransitionTime: now}}}
	_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

func createPod(ctx context.Context, cs kubernetes.Interface, name string) error {
	_, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}},
	}, metav1.CreateOptions{})
	return err
}

// bindWatch records when each pod was first seen bound.
type bindWatch struct {
	mu     sync.Mutex
	bound  map[string]time.Time
	node   map[string]int
	signal chan struct{}
}

func newBindWatch() *bindWatch {
	return &bindWatch{bound: map[string]time.Time{}, node: map[string]int{}, signal: make(chan struct{}, 1)}
}

func (b *bindWatch) run(ctx context.Context, cs kubernetes.Interface, rv string) {
	for ctx.Err() == nil {
		w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = p.ResourceVersion
			if p.Spec.NodeName == "" {
				continue
			}
			now := time.Now()
			b.mu.Lock()
			if _, seen := b.bound[p.Name]; !seen {
				b.bound[p.Name] = now
				b.node[p.Spec.NodeName]++
			}
			b.mu.Unlock()
			select {
			case b.signal <- struct{}{}:
			default:
			}
		}
	}
}

func (b *bindWatch) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.bound)
}

func (b *bindWatch) waitBound(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for b.count() < n {
		select {
		case <-b.signal:
		case <-deadline:
			return fmt.Errorf("only %d of %d pods bound after %v", b.count(), n, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *bindWatch) boundAt(name string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.bound[name]
	return t, ok
}

func (b *bindWatch) span() (first, last time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ts []time.Time
	for _, t := range b.bound {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts[0], ts[len(ts)-1]
}

func (b *bindWatch) spread() (nodes, maxPods int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.node {
		maxPods = max(maxPods, c)
	}
	return len(b.node), maxPods
}
