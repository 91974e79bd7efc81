package dns_test

import (
	"context"
	"flag"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/metrics"
	"github.com/skiff-sh/skiff/test/framework"
)

var qpsClients = flag.Int("dns.clients", 32, "concurrent clients in BenchmarkQPS")

// BenchmarkQPS hammers a cluster DNS server over UDP on loopback with
// concurrent clients, each with its own socket and one question in
// flight, and reports queries per second and latency percentiles. The
// clients run on the same machine and share its CPUs with the server,
// so the numbers are a lower bound. Run with e.g.
//
//	go test -run '^$' -bench QPS -benchtime 5s ./internal/dns/
func BenchmarkQPS(b *testing.B) {
	cluster := framework.StartServer(b, framework.Options{})
	client := cluster.Client(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	up := startUpstream(b)
	srv := startDNS(b, client, up.addr)
	addr := srv.Addr()

	createService(b, ctx, client, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	})
	createService(b, ctx, client, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}},
	})
	createSlice(b, ctx, client, "default", "db", "db-1", 5432, []endpointSpec{
		{ip: "10.42.0.10", hostname: "db-0", ready: true},
		{ip: "10.42.0.11", hostname: "db-1", ready: true},
		{ip: "10.42.0.12", hostname: "db-2", ready: true},
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := exchange(addr, query{name: "db-2.db.default.svc.cluster.local", qtype: dns.TypeA})
		if err == nil && r.Rcode == dns.RcodeSuccess {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("services not served after 10s: %v %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	cases := []struct {
		name  string
		names []query
	}{
		{"cluster-A", []query{{name: "web.default.svc.cluster.local.", qtype: dns.TypeA}}},
		{"headless-A", []query{{name: "db.default.svc.cluster.local.", qtype: dns.TypeA}}},
		{"cluster-NXDOMAIN", []query{{name: "web.default.svc.cluster.local.svc.cluster.local.", qtype: dns.TypeA}}},
		{"cached-external", []query{{name: "example.com.", qtype: dns.TypeA}, {name: "www.example.com.", qtype: dns.TypeA}}},
		{"mixed", []query{
			{name: "web.default.svc.cluster.local.", qtype: dns.TypeA},
			{name: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA},
			{name: "kubernetes.default.svc.cluster.local.", qtype: dns.TypeA},
			{name: "_pg._tcp.db.default.svc.cluster.local.", qtype: dns.TypeSRV},
			{name: "example.com.", qtype: dns.TypeA},
			{name: "nx.example.com.", qtype: dns.TypeA},
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) { hammer(b, addr, tc.names, *qpsClients) })
	}
}

// hammer sends b.N questions from n clients, round-robin over qs.
func hammer(b *testing.B, addr string, qs []query, n int) {
	msgs := make([]*dns.Msg, len(qs))
	for i, q := range qs {
		msgs[i] = new(dns.Msg).SetQuestion(q.name, q.qtype)
		if r, err := exchange(addr, q); err != nil || r.Rcode == dns.RcodeServerFailure {
			b.Fatalf("warm-up %s: %v %v", q.name, r, err) // also fills the cache
		}
	}
	var next atomic.Int64
	latencies := make([][]time.Duration, n)
	var failures atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := metrics.ProcessCPU()
	start := time.Now()
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := cl.Dial(addr)
			if err != nil {
				failures.Add(1)
				return
			}
			defer conn.Close()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				m := msgs[int(i)%len(msgs)].Copy()
				m.Id = dns.Id()
				t0 := time.Now()
				if _, _, err := cl.ExchangeWithConn(m, conn); err != nil {
					failures.Add(1)
					continue
				}
				latencies[c] = append(latencies[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := metrics.ProcessCPU() - cpu0
	b.StopTimer()
	all := slices.Concat(latencies...)
	if len(all) == 0 {
		b.Fatal("no answers")
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "qps")
	// Queries per CPU-second of this whole process (clients, server and
	// the idle API server): independent of what else runs on the machine,
	// and a lower bound of the server's own QPS per core.
	b.ReportMetric(float64(len(all))/cpu.Seconds(), "q/cpu-s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	if f := failures.Load(); f > 0 {
		b.ReportMetric(float64(f), "failures")
		if f > int64(b.N)/100 {
			b.Errorf("%d of %d questions failed", f, b.N)
		}
	}
}
