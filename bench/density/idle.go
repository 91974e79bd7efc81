package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

// idleCost is what the nodes alone cost the control plane, before any
// pod exists. After settle (registration's burst of creates and first
// status updates over, each kubelet's Lease renewed, every 10 s, at
// least once) it measures the server's and the hollow nodes' CPU over window, and
// the API requests the server served in it (a steady cluster's
// heartbeats: every kubelet's Lease renewal each 10 s, node status on
// change, the controllers' own Leases). It is the floor under the
// density run: at 5,000 nodes, what of the machine's two cores is taken
// before the first pod. With a profiler it also saves both processes' CPU
// profiles over the window ("idle"), which the profiling's own sampling
// adds a little to.
func idleCost(ctx context.Context, prof *profiler, src metricsSource, serverPID, hollowPID, nodes int, settle, window time.Duration) (map[string]any, error) {
	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(settle); err != nil {
		return nil, err
	}
	before, err := scrape(ctx, src)
	if err != nil {
		return nil, err
	}
	cpu0, hollow0 := benchutil.CPUTicks(serverPID), benchutil.CPUTicks(hollowPID)
	start := time.Now()
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		prof.cpu(ctx, "idle", window)
	}()
	if err := wait(window); err != nil {
		return nil, err
	}
	after, err := scrape(ctx, src)
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	server := float64(benchutil.CPUTicks(serverPID)-cpu0) / 100
	hollow := float64(benchutil.CPUTicks(hollowPID)-hollow0) / 100
	<-profiled
	api := latencies(before.api, after.api)
	requests := 0
	for k, h := range api {
		if !strings.HasPrefix(k, "watch ") {
			requests += h.Count
		}
	}
	res := map[string]any{
		"window_s":                    secs,
		"server_cores":                server / secs,
		"server_cores_per_1000_nodes": server / secs / float64(nodes) * 1000,
		"hollow_nodes_cores":          hollow / secs,
		"requests_per_s":              float64(requests) / secs,
		"lease_updates_per_s":         float64(api["update leases"].Count) / secs,
		"api_latency":                 api,
	}
	perRequest := 0.0
	if requests > 0 {
		perRequest = server * 1000 / float64(requests)
		res["server_cpu_ms_per_request"] = perRequest
	}
	fmt.Printf("  idle, %d nodes, no pods (%.0f s): server %.2f cores (%.2f per 1,000 nodes), hollow nodes %.2f cores; %.0f requests/s (%.0f Lease updates/s), %.2f ms of server CPU each\n",
		nodes, secs, server/secs, server/secs/float64(nodes)*1000, hollow/secs, float64(requests)/secs,
		float64(api["update leases"].Count)/secs, perRequest)
	return res, nil
}
