// Command proxy measures skiff's Service proxy against the kernel's
// nftables: for 100, 1,000 and 5,000 ClusterIP Services × 10 endpoints it
// runs the real proxy.Proxy, fed by a fake clientset, in a fresh network
// namespace, and records
//   - the control plane: the full sync time (compute + apply, from the
//     proxy's own sync-duration histogram), the incremental sync time
//     after one endpoint changes, and the latency from an EndpointSlice
//     update to the nftables transaction that carries it being committed;
//   - the data plane, between a client pod namespace and a backend pod
//     namespace routed through the proxy's (topology.go): TCP connect
//     time (the first packet of a connection, the one the DNAT rules see)
//     to the first and the last Service's ClusterIP and straight to a pod
//     IP, and HTTP requests/s through a ClusterIP and straight to the pod,
//     over kept-alive connections and with a new connection per request.
//
// It needs root, ip and nft; it creates the namespaces (named skbp-*-<pid>)
// and deletes them, also when it fails or is interrupted. Results in
// bench/results/proxy.json; it never fails on timing.
//
//	go run ./bench/proxy [-short] [-dataplane=false]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

// Set for the copy of this program that runs inside the node namespace.
const (
	innerEnv   = "SKIFF_BENCH_PROXY_NETNS"
	clientEnv  = "SKIFF_BENCH_PROXY_CLIENT_NETNS"
	backendEnv = "SKIFF_BENCH_PROXY_BACKEND_NETNS"
)

func main() {
	out := flag.String("out", "bench/results", "directory for JSON results")
	short := flag.Bool("short", os.Getenv("SHORT") != "", "a quick run (CI regression guard): 10 and 100 Services, 3 changes, 1 s load runs at 100 only")
	changes := flag.Int("changes", 30, "endpoint changes measured per size")
	withDP := flag.Bool("dataplane", true, "also measure the data plane (client and backend pod namespaces)")
	samples := flag.Int("connects", 2000, "TCP connects measured per target per size")
	loadFor := flag.Duration("load", 5*time.Second, "HTTP load per path (direct, ClusterIP) per mode (keep-alive, new connection) per size")
	conc := flag.Int("conc", 16, "concurrent client connections in the load runs")
	sizeList := flag.String("sizes", "100,1000,5000", "numbers of Services, comma-separated, in the order measured")
	flag.Parse()
	var sizes []int
	for _, f := range strings.Split(*sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 3 {
			fmt.Fprintf(os.Stderr, "bench: -sizes: %q is not a number of Services ≥ 3\n", f)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	if *short {
		sizes, *changes, *samples, *loadFor = []int{10, 100}, 3, 200, time.Second
	}
	dpo := dataplaneOptions{ConnectSamples: *samples, LoadDuration: *loadFor, Concurrency: *conc}
	if os.Getenv(innerEnv) != "" {
		if err := measure(*out, sizes, *changes, os.Getenv(clientEnv), os.Getenv(backendEnv), dpo, *short); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := outer(*short, *withDP); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// outer makes the network namespaces, runs this program again inside the
// node namespace, and deletes the namespaces (and with them the veths and
// the nftables table).
func outer(short, withDP bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespace, nftables)")
	}
	for _, b := range []string{"ip", "nft", "sysctl"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not installed", b)
		}
	}
	deleteStale()
	topo := newTopology()
	defer topo.deleteAll()
	if err := topo.addNode(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", topo.node, self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), innerEnv+"="+topo.node)
	if withDP {
		if err := topo.addPods(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: data plane not measured:", err)
		} else {
			cmd.Env = append(cmd.Env, clientEnv+"="+topo.client, backendEnv+"="+topo.backend)
		}
	}
	if short {
		cmd.Env = append(cmd.Env, "SHORT=1")
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// The child dies with this thread (Pdeathsig is per thread), so keep
	// the thread until it has exited; on SIGINT/SIGTERM stop it and fall
	// through to deleting the namespaces.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		return err
	case s := <-sigs:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
		return fmt.Errorf("interrupted by %v", s)
	}
}

func measure(out string, sizes []int, changes int, clientNS, backendNS string, dpo dataplaneOptions, short bool) error {
	report := benchutil.NewReport("proxy")
	var dp *dataplane
	if clientNS != "" {
		var err error
		if dp, err = startDataplane(clientNS, backendNS); err != nil {
			return err
		}
		defer dp.Close()
		report.Results["dataplane"] = fmt.Sprintf("client pod netns %s → node netns (proxy) → backend pod netns, veth pairs, all in 10.42.0.0/16 (no masquerade); "+
			"HTTP server (Go net/http) on %d backend IPs:%d; connects: %d per target, raw non-blocking connect() + poll, closed with RST; "+
			"load: %d connections, %v per path per mode, in up to 10 alternating slices", clientAddr, backendCount, backendPort,
			dpo.ConnectSamples, dpo.Concurrency, dpo.LoadDuration)
	}
	fmt.Printf("\n| Services × 10 endpoints | full sync | incremental p50 | incremental p99 | endpoint → rule p50 | p99 |\n|---|---|---|---|---|---|\n")
	var done []sizeResult
	for i, n := range sizes {
		opt := dpo
		if short && i < len(sizes)-1 {
			opt.LoadDuration = 0 // short: load runs at the largest size only
		}
		r, err := runSize(context.Background(), n, changes, dp, opt)
		if err != nil {
			return fmt.Errorf("%d services: %w", n, err)
		}
		report.Results[fmt.Sprintf("services_%d", n)] = r
		done = append(done, r)
		fmt.Printf("| %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |\n", n, r.FullSyncMS,
			r.Incremental.P50, r.Incremental.P99, r.EndpointToRule.P50, r.EndpointToRule.P99)
	}
	if dp != nil {
		printDataplaneHeader()
		for _, r := range done {
			printDataplaneRow(r.Services, r.FirstPacket, r.Throughput)
		}
	}
	report.Results["kernel"] = strings.TrimSpace(uname())
	path, err := report.Write(out)
	if err != nil {
		return err
	}
	fmt.Println("results:", path)
	return nil
}

func uname() string {
	b, _ := exec.Command("uname", "-r").Output()
	return string(b)
}
