// Command apiserver benchmarks skiff's control plane: cold start to
// /readyz, idle RSS, pod create/get/list latency at concurrency 1 and 16,
// and LIST of many pods. It prints a table and writes JSON.
//
//	go run ./bench/apiserver -bin bin/skiff [-pods 10000] [-ops 500] [-short]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

func main() {
	bin := flag.String("bin", benchutil.EnvOr("SKIFF_BIN", "bin/skiff"), "skiff binary")
	out := flag.String("out", "bench/results", "directory for JSON results")
	pods := flag.Int("pods", 10000, "pods for the large LIST")
	ops := flag.Int("ops", 500, "operations per latency measurement")
	starts := flag.Int("starts", 5, "cold starts to measure")
	short := flag.Bool("short", false, "a quick run (CI regression guard): small counts")
	flag.Parse()
	if *short {
		*pods, *ops, *starts = 300, 50, 2
	}
	if err := run(*bin, *out, *pods, *ops, *starts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin, out string, nPods, ops, starts int) error {
	report := benchutil.NewReport("apiserver")
	tmp, err := os.MkdirTemp("", "skiff-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logf, _ := os.Create(filepath.Join(tmp, "server.log"))
	defer logf.Close()

	// Cold start: fresh data dir each time (CA, certificates, etcd bootstrap).
	var cold, warm []time.Duration
	var last *benchutil.Server
	for i := 0; i < starts; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("cold-%d", i))
		s, err := benchutil.StartServer(bin, dir, logf)
		if err != nil {
			return fmt.Errorf("cold start: %w", err)
		}
		cold = append(cold, s.ReadyAfter)
		s.Stop()
		// Warm restart on the same data.
		s, err = benchutil.StartServer(bin, dir, logf)
		if err != nil {
			return fmt.Errorf("restart: %w", err)
		}
		warm = append(warm, s.ReadyAfter)
		if i < starts-1 {
			s.Stop()
		} else {
			last = s
		}
	}
	defer last.Stop()
	report.Results["cold_start_to_readyz"] = benchutil.Summarize(cold, 0)
	report.Results["restart_to_readyz"] = benchutil.Summarize(warm, 0)

	time.Sleep(5 * time.Second)
	idle := benchutil.RSSBytes(last.Cmd.Process.Pid)
	report.Results["idle_rss_bytes"] = idle

	_, cs, err := benchutil.Client(last.Kubeconfig, 100000, true)
	if err != nil {
		return err
	}
	ctx, cancel := benchutil.Ctx(30 * time.Minute)
	defer cancel()
	latency := map[string]benchutil.Summary{}
	for _, conc := range []int{1, 16} {
		prefix := fmt.Sprintf("lat-c%d-", conc)
		latency[fmt.Sprintf("create_c%d", conc)] = benchutil.Measure(ops, conc, func(i int) error {
			_, err := cs.CoreV1().Pods("default").Create(ctx, pod(prefix, i), metav1.CreateOptions{})
			return err
		})
		latency[fmt.Sprintf("get_c%d", conc)] = benchutil.Measure(ops, conc, func(i int) error {
			_, err := cs.CoreV1().Pods("default").Get(ctx, fmt.Sprintf("%s%d", prefix, i), metav1.GetOptions{})
			return err
		})
		latency[fmt.Sprintf("list_c%d", conc)] = benchutil.Measure(ops/5, conc, func(i int) error {
			_, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{Limit: 50})
			return err
		})
	}
	report.Results["pod_latency"] = latency

	// Large LIST: fill to nPods, then list everything (one request, and
	// paged by 500 as kubectl does).
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "big"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// Fill in steps; at 1k, 5k and 10k stored pods (and at nPods) measure
	// GET and whole-namespace LIST latency, for latency vs object count.
	var fillLat []time.Duration
	fillStart := time.Now()
	byObjects := map[string]any{}
	for filled := 0; filled < nPods; {
		next := nPods
		for _, c := range []int{1000, 5000, 10000} {
			if c > filled && c < next {
				next = c
			}
		}
		base := filled
		s := benchutil.MeasureSamples(next-filled, 16, func(i int) error {
			_, err := cs.CoreV1().Pods("big").Create(ctx, pod("big-", base+i), metav1.CreateOptions{})
			return err
		})
		fillLat = append(fillLat, s...)
		filled = next
		get := benchutil.Measure(ops/5, 1, func(i int) error {
			_, err := cs.CoreV1().Pods("big").Get(ctx, fmt.Sprintf("big-%d", (i*7919)%filled), metav1.GetOptions{})
			return err
		})
		list := benchutil.Measure(5, 1, func(int) error {
			_, err := cs.CoreV1().Pods("big").List(ctx, metav1.ListOptions{})
			return err
		})
		byObjects[strconv.Itoa(filled)] = map[string]float64{"get_p50_ms": get.P50, "get_p99_ms": get.P99, "list_p50_ms": list.P50, "list_p99_ms": list.Max}
	}
	report.Results["fill_create_c16"] = benchutil.Summarize(fillLat, time.Since(fillStart))
	report.Results["latency_by_objects"] = byObjects
	var full, paged []time.Duration
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		l, err := cs.CoreV1().Pods("big").List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != nPods {
			return fmt.Errorf("full list: %v (%d items)", err, len(l.Items))
		}
		full = append(full, time.Since(t0))
		t0 = time.Now()
		n, cont := 0, ""
		for {
			l, err := cs.CoreV1().Pods("big").List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
			if err != nil {
				return err
			}
			n += len(l.Items)
			if cont = l.Continue; cont == "" {
				break
			}
		}
		if n != nPods {
			return fmt.Errorf("paged list saw %d of %d", n, nPods)
		}
		paged = append(paged, time.Since(t0))
	}
	report.Results[fmt.Sprintf("list_%d_pods_full", nPods)] = benchutil.Summarize(full, 0)
	report.Results[fmt.Sprintf("list_%d_pods_paged500", nPods)] = benchutil.Summarize(paged, 0)
	report.Results["rss_after_fill_bytes"] = benchutil.RSSBytes(last.Cmd.Process.Pid)

	printTable(report, cold, warm, idle, latency, nPods)
	path, err := report.Write(out)
	if err != nil {
		return err
	}
	fmt.Println("results:", path)
	return nil
}

func pod(prefix string, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s%d", prefix, i), Labels: map[string]string{"app": "bench"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
}

func printTable(r *benchutil.Report, cold, warm []time.Duration, idle int64, lat map[string]benchutil.Summary, nPods int) {
	c, w := benchutil.Summarize(cold, 0), benchutil.Summarize(warm, 0)
	fmt.Printf("\nskiff API server benchmark (%d cores, commit %s)\n\n", r.Machine["cores"], r.Commit)
	fmt.Printf("| measure | p50 | p99 | max | throughput |\n|---|---|---|---|---|\n")
	fmt.Printf("| cold start → /readyz 200 | %.0f ms | %.0f ms | %.0f ms | |\n", c.P50, c.P99, c.Max)
	fmt.Printf("| restart → /readyz 200 | %.0f ms | %.0f ms | %.0f ms | |\n", w.P50, w.P99, w.Max)
	for _, k := range []string{"create_c1", "get_c1", "list_c1", "create_c16", "get_c16", "list_c16"} {
		s := lat[k]
		fmt.Printf("| pod %s | %.2f ms | %.2f ms | %.2f ms | %.0f/s |\n", k, s.P50, s.P99, s.Max, s.PerSecond)
	}
	if f, ok := r.Results[fmt.Sprintf("list_%d_pods_full", nPods)].(benchutil.Summary); ok {
		fmt.Printf("| LIST %d pods (one request) | %.0f ms | | %.0f ms | |\n", nPods, f.P50, f.Max)
	}
	if p, ok := r.Results[fmt.Sprintf("list_%d_pods_paged500", nPods)].(benchutil.Summary); ok {
		fmt.Printf("| LIST %d pods (pages of 500) | %.0f ms | | %.0f ms | |\n", nPods, p.P50, p.Max)
	}
	fmt.Printf("\nidle RSS (server incl. embedded etcd): %.1f MB; after %d pods: %.1f MB\n",
		float64(idle)/1e6, nPods, float64(r.Results["rss_after_fill_bytes"].(int64))/1e6)
}

var _ = context.Background
