// Command node measures a real node on this machine: the agent's cold
// start to node Ready, its idle memory (and containerd's), pod startup
// latency with real containers (create → Running seen on a watch) for a
// steady stream and for a burst, and what a hollow node costs. It needs
// root, containerd and runc; it removes everything it made (the agent's
// --cleanup). Tables on stdout, JSON in bench/results/node.json; it never
// fails on timing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

func main() {
	bin := flag.String("bin", benchutil.EnvOr("SKIFF_BIN", "bin/skiff"), "skiff binary")
	out := flag.String("out", "bench/results", "directory for JSON results")
	steady := flag.Int("pods", 100, "pods created at -rate per second")
	rate := flag.Int("rate", 5, "creation rate of the steady phase")
	burst := flag.Int("burst", 20, "pods created at once")
	hollow := flag.Int("hollow", 200, "hollow nodes for the per-node cost")
	short := flag.Bool("short", false, "a quick run (CI regression guard): small counts")
	flag.Parse()
	if *short {
		*steady, *rate, *burst, *hollow = 5, 5, 3, 10
	}
	if err := run(*bin, *out, *steady, *rate, *burst, *hollow); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type proc struct{ cmd *exec.Cmd }

func start(bin string, logf *os.File, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = benchutil.ChildProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd}, nil
}

// stop sends SIGTERM to the process group and waits.
func (p *proc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func run(bin, out string, nSteady, rate, nBurst, nHollow int) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (containerd, cgroups, network)")
	}
	report := benchutil.NewReport("node")
	tmp, err := os.MkdirTemp("", "skiff-bench-node-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logf, _ := os.Create(filepath.Join(tmp, "log"))
	defer logf.Close()

	regPort := benchutil.FreePort()
	srv, err := benchutil.StartServer(bin, filepath.Join(tmp, "server"), logf,
		"--disable-registry=false", "--registry-port", strconv.Itoa(regPort))
	if err != nil {
		return err
	}
	defer srv.Stop()
	token, err := os.ReadFile(filepath.Join(srv.DataDir, "token"))
	if err != nil {
		return err
	}
	_, cs, err := benchutil.Client(srv.Kubeconfig, 1000, false)
	if err != nil {
		return err
	}
	ctx, cancel := benchutil.Ctx(20 * time.Minute)
	defer cancel()
	// Let the registry seed the built-in images first: the agent's cold
	// start is measured on its own.
	time.Sleep(2 * time.Second)

	agentDir := filepath.Join(tmp, "agent")
	t0 := time.Now()
	agent, err := start(bin, logf, "agent", "--server", fmt.Sprintf("https://127.0.0.1:%d", srv.Port),
		"--token", strings.TrimSpace(string(token)), "--data-dir", agentDir, "--node-name", "bench-node", "--log-level", "warn")
	if err != nil {
		return err
	}
	defer func() {
		agent.stop()
		if out, err := exec.Command(bin, "agent", "--cleanup", "--data-dir", agentDir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: %v: %s\n", err, out)
		}
	}()
	if err := waitNodeReady(ctx, cs, "bench-node", 2*time.Minute); err != nil {
		return err
	}
	readyAfter := time.Since(t0)
	report.Results["agent_cold_start_to_node_ready_ms"] = readyAfter.Milliseconds()

	// Warm the image (a first pull is a different measurement).
	if _, _, err := podLatencies(ctx, cs, "warm", 1, 0); err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	agentRSS := benchutil.RSSBytes(agent.cmd.Process.Pid)
	containerdRSS := rssOfChild(agent.cmd.Process.Pid, "containerd")
	report.Results["agent_idle_rss_bytes"] = agentRSS
	report.Results["containerd_idle_rss_bytes"] = containerdRSS
	// What a node costs, as k3s measures its agent (containerd included).
	report.Results["agent_and_containerd_idle_rss_bytes"] = agentRSS + containerdRSS

	steady, samples, err := podLatencies(ctx, cs, "steady", nSteady, rate)
	if err != nil {
		return err
	}
	report.Results["pod_startup_steady"] = map[string]any{"pods": nSteady, "rate_per_s": rate, "latency": steady}
	// Every steady-phase sample in ms, sorted, for the report's CDF.
	report.Results["pod_startup_samples_ms"] = samples
	burst, _, err := podLatencies(ctx, cs, "burst", nBurst, 0)
	if err != nil {
		return err
	}
	report.Results["pod_startup_burst"] = map[string]any{"pods": nBurst, "latency": burst}
	busyRSS := benchutil.RSSBytes(agent.cmd.Process.Pid)
	report.Results["agent_rss_with_pods_bytes"] = busyRSS

	hollowKiB, hollowCPU, err := hollowCost(ctx, bin, srv.Kubeconfig, cs, nHollow, logf)
	if err != nil {
		return err
	}
	report.Results["hollow_node_rss_kib"] = hollowKiB
	report.Results["hollow_node_cpu_millicores"] = hollowCPU

	fmt.Printf("\n%-44s %s\n", "MEASURE", "VALUE")
	fmt.Printf("%-44s %v\n", "agent cold start → node Ready", readyAfter.Round(time.Millisecond))
	fmt.Printf("%-44s %d MiB\n", "agent idle RSS (excl. containerd)", agentRSS>>20)
	fmt.Printf("%-44s %d MiB\n", "containerd idle RSS", containerdRSS>>20)
	fmt.Printf("%-44s p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", fmt.Sprintf("pod create→Running, %d at %d/s", nSteady, rate), steady.P50, steady.P99, steady.Max)
	fmt.Printf("%-44s p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", fmt.Sprintf("pod create→Running, burst of %d", nBurst), burst.P50, burst.P99, burst.Max)
	fmt.Printf("%-44s %d MiB\n", fmt.Sprintf("agent RSS with %d pods", nSteady+nBurst), busyRSS>>20)
	fmt.Printf("%-44s %.0f KiB RSS, %.1f millicores\n", fmt.Sprintf("per hollow node (%d nodes, idle)", nHollow), hollowKiB, hollowCPU)
	path, err := report.Write(out)
	if err != nil {
		return err
	}
	fmt.Println("results:", path)
	return nil
}

func waitNodeReady(ctx context.Context, cs kubernetes.Interface, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("node %s not Ready after %v", name, timeout)
}

// podLatencies creates n busybox pods (all at once when rate is 0) and
// returns create→Running latencies seen on a watch (summarised, and each
// in ms, sorted); then deletes them.
func podLatencies(ctx context.Context, cs kubernetes.Interface, prefix string, n, rate int) (benchutil.Summary, []float64, error) {
	ns := "bench-" + prefix
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return benchutil.Summary{}, nil, err
	}
	// Each phase starts on an idle node: the namespace (and its pods) is
	// gone before the next one begins.
	defer func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		for i := 0; i < 600; i++ {
			if _, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return benchutil.Summary{}, nil, err
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	lat := []time.Duration{}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Status.Phase != corev1.PodRunning {
				continue
			}
			now := time.Now()
			mu.Lock()
			if t, ok := created[p.Name]; ok {
				lat = append(lat, now.Sub(t))
				delete(created, p.Name)
			}
			mu.Unlock()
		}
	}()
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	zero := int64(1)
	for i := 0; i < n; i++ {
		if tick != nil {
			<-tick
		}
		name := fmt.Sprintf("%s-%d", prefix, i)
		mu.Lock()
		created[name] = time.Now()
		mu.Unlock()
		_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero,
				Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36", Command: []string{"sleep", "3600"}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			return benchutil.Summary{}, nil, err
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		mu.Lock()
		done := len(lat)
		mu.Unlock()
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			return benchutil.Summary{}, nil, fmt.Errorf("%s: only %d of %d pods Running", prefix, done, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	sum := benchutil.Summarize(lat, 0) // sorts lat
	ms := make([]float64, len(lat))
	for i, d := range lat {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	return sum, ms, nil
}

// rssOfChild finds a direct child of pid whose command is name.
func rssOfChild(pid int, name string) int64 {
	out, err := exec.Command("pgrep", "-P", strconv.Itoa(pid), "-x", name).Output()
	if err != nil {
		return 0
	}
	child, _ := strconv.Atoi(strings.Fields(string(out))[0])
	return benchutil.RSSBytes(child)
}

// hollowCost runs n hollow nodes, waits until they are Ready and idle,
// and returns the RSS and CPU per node.
func hollowCost(ctx context.Context, bin, kubeconfig string, cs kubernetes.Interface, n int, logf *os.File) (float64, float64, error) {
	p, err := start(bin, logf, "hollow-nodes", "--count", strconv.Itoa(n), "--kubeconfig", kubeconfig, "--name-prefix", "hollow-")
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	for i := 0; i < n; i++ {
		if err := waitNodeReady(ctx, cs, fmt.Sprintf("hollow-%d", i), 2*time.Minute); err != nil {
			return 0, 0, err
		}
	}
	time.Sleep(10 * time.Second)
	before := benchutil.CPUTicks(p.cmd.Process.Pid)
	t0 := time.Now()
	time.Sleep(20 * time.Second)
	used := float64(benchutil.CPUTicks(p.cmd.Process.Pid)-before) / 100 // seconds (USER_HZ 100)
	millicores := used / time.Since(t0).Seconds() * 1000 / float64(n)
	return float64(benchutil.RSSBytes(p.cmd.Process.Pid)) / 1024 / float64(n), millicores, nil
}
