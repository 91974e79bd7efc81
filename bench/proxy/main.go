// Command proxy measures skiff's Service proxy against the kernel's
// nftables: for 100, 1,000 and 5,000 ClusterIP Services × 10 endpoints it
// runs the real proxy.Proxy, fed by a fake clientset, in a fresh network
// namespace, and records the full sync time (compute + apply, from the
// proxy's own sync-duration histogram), the incremental sync time after
// one endpoint changes, and the latency from an EndpointSlice update to
// the nftables transaction that carries it being committed. It needs
// root, ip and nft; it creates the namespace and deletes it. Results in
// bench/results/proxy.json; it never fails on timing.
//
//	go run ./bench/proxy [-short]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

const innerEnv = "SKIFF_BENCH_PROXY_NETNS"

func main() {
	out := flag.String("out", "bench/results", "directory for JSON results")
	short := flag.Bool("short", os.Getenv("SHORT") != "", "a quick run (CI regression guard): 100 Services, 3 changes")
	changes := flag.Int("changes", 30, "endpoint changes measured per size")
	flag.Parse()
	sizes := []int{100, 1000, 5000}
	if *short {
		sizes, *changes = []int{100}, 3
	}
	if ns := os.Getenv(innerEnv); ns != "" {
		if err := measure(*out, sizes, *changes); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := outer(*short); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// outer makes a network namespace, runs this program again inside it,
// and deletes the namespace (and the nftables table with it).
func outer(short bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespace, nftables)")
	}
	for _, b := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not installed", b)
		}
	}
	ns := "skiff-bench-proxy-" + strconv.Itoa(os.Getpid())
	if b, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add: %v: %s", err, b)
	}
	defer func() {
		if b, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ip netns del %s: %v: %s\n", ns, err, b)
		}
	}()
	if b, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("lo up: %v: %s", err, b)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), innerEnv+"="+ns)
	if short {
		cmd.Env = append(cmd.Env, "SHORT=1")
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func measure(out string, sizes []int, changes int) error {
	report := benchutil.NewReport("proxy")
	fmt.Printf("\n| Services × 10 endpoints | full sync | incremental p50 | incremental p99 | endpoint → rule p50 | p99 |\n|---|---|---|---|---|---|\n")
	for _, n := range sizes {
		r, err := runSize(context.Background(), n, changes)
		if err != nil {
			return fmt.Errorf("%d services: %w", n, err)
		}
		report.Results[fmt.Sprintf("services_%d", n)] = r
		fmt.Printf("| %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |\n", n, r.FullSyncMS,
			r.Incremental.P50, r.Incremental.P99, r.EndpointToRule.P50, r.EndpointToRule.P99)
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
