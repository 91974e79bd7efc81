package main

import (
	"fmt"
	"net/netip"
	"time"
)

// dataplaneOptions say how much data-plane measuring to do per size.
type dataplaneOptions struct {
	// ConnectSamples is the number of connects per target.
	ConnectSamples int
	// LoadDuration is the time per path (direct, ClusterIP) per load
	// mode; zero skips the load runs.
	LoadDuration time.Duration
	// Concurrency is the number of client connections (workers).
	Concurrency int
}

// firstPacket is TCP connect time from the client pod: straight to a
// backend pod IP (no DNAT, the baseline), and to the ClusterIP of the
// first and of the last Service created. Each connect's SYN is the first
// packet of a new connection, the one the proxy's rules see (later
// packets follow the conntrack entry).
type firstPacket struct {
	Direct       connectLatency `json:"direct"`
	FirstService connectLatency `json:"first_service"`
	LastService  connectLatency `json:"last_service"`
}

// loadPair is HTTP requests/s straight to a pod IP and through a
// ClusterIP, and their ratio (ClusterIP ÷ direct: 1 means no cost).
type loadPair struct {
	Direct    float64 `json:"direct_per_second"`
	ClusterIP float64 `json:"cluster_ip_per_second"`
	Ratio     float64 `json:"cluster_ip_vs_direct"`
	Errors    int64   `json:"errors"`
}

type throughput struct {
	Concurrency    int      `json:"concurrency"`
	SecondsPerPath float64  `json:"seconds_per_path"`
	KeepAlive      loadPair `json:"keepalive"`
	NewConnection  loadPair `json:"new_connection"`
}

// clusterIP is the ClusterIP objects gives Service i.
func clusterIP(i int) netip.Addr {
	ip := netip.MustParseAddr("10.43.0.0").As4()
	ip[2], ip[3] = byte((i+1)>>8), byte(i+1)
	return netip.AddrFrom4(ip)
}

// measureDataplane runs the connect samples and, when asked, the load
// runs, for a proxy programmed with n Services.
func measureDataplane(d *dataplane, n int, opt dataplaneOptions) (*firstPacket, *throughput, error) {
	direct := netip.AddrPortFrom(netip.MustParseAddr(backendIP(0)), backendPort)
	first := netip.AddrPortFrom(clusterIP(0), 80)
	last := netip.AddrPortFrom(clusterIP(n-1), 80)
	for _, dst := range []netip.AddrPort{direct, first, last} {
		if err := d.waitReachable(dst, 10*time.Second); err != nil {
			return nil, nil, err
		}
	}
	// Warm-up (ARP, caches), not recorded.
	if _, err := d.connectTimes([]netip.AddrPort{direct, first, last}, 50); err != nil {
		return nil, nil, err
	}
	times, err := d.connectTimes([]netip.AddrPort{direct, first, last}, opt.ConnectSamples)
	if err != nil {
		return nil, nil, err
	}
	fp := &firstPacket{Direct: summarizeConnect(times[0]), FirstService: summarizeConnect(times[1]),
		LastService: summarizeConnect(times[2])}
	if opt.LoadDuration <= 0 {
		return fp, nil, nil
	}
	tp := &throughput{Concurrency: opt.Concurrency, SecondsPerPath: opt.LoadDuration.Seconds(),
		KeepAlive:     d.comparePaths(direct, last, opt, true),
		NewConnection: d.comparePaths(direct, last, opt, false)}
	return fp, tp, nil
}

// comparePaths loads direct and via in alternating slices (up to 10, of
// at least 250 ms), so that a change in the machine's load during the
// run hits both paths alike.
func (d *dataplane) comparePaths(direct, via netip.AddrPort, opt dataplaneOptions, keepAlive bool) loadPair {
	rounds := min(10, max(2, int(opt.LoadDuration/(250*time.Millisecond))))
	var sum [2]loadRun
	for range rounds {
		for i, dst := range []netip.AddrPort{direct, via} {
			r := d.load(dst, opt.Concurrency, opt.LoadDuration/time.Duration(rounds), keepAlive)
			sum[i].Requests += r.Requests
			sum[i].Errors += r.Errors
			sum[i].Elapsed += r.Elapsed
		}
	}
	p := loadPair{Errors: sum[0].Errors + sum[1].Errors}
	p.Direct = float64(sum[0].Requests) / sum[0].Elapsed.Seconds()
	p.ClusterIP = float64(sum[1].Requests) / sum[1].Elapsed.Seconds()
	if p.Direct > 0 {
		p.Ratio = p.ClusterIP / p.Direct
	}
	return p
}

func printDataplaneHeader() {
	fmt.Printf("\n| Services | connect direct p50 / p99 | first Service p50 / p99 | last Service p50 / p99 | keep-alive req/s direct → ClusterIP (ratio) | new-connection req/s direct → ClusterIP (ratio) |\n|---|---|---|---|---|---|\n")
}

func printDataplaneRow(n int, fp *firstPacket, tp *throughput) {
	lat := func(c connectLatency) string { return fmt.Sprintf("%.0f / %.0f µs", c.P50, c.P99) }
	pair := func(p loadPair) string {
		return fmt.Sprintf("%.0f → %.0f (%.3f)", p.Direct, p.ClusterIP, p.Ratio)
	}
	ka, nc := "not run", "not run"
	if tp != nil {
		ka, nc = pair(tp.KeepAlive), pair(tp.NewConnection)
	}
	fmt.Printf("| %d | %s | %s | %s | %s | %s |\n", n, lat(fp.Direct), lat(fp.FirstService), lat(fp.LastService), ka, nc)
}
