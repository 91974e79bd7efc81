// Command dns measures skiff's cluster DNS server: queries per second and
// latency over UDP on loopback against the real dns.Server, fed by a fake
// clientset holding N Services (ClusterIP and headless with endpoints).
// Clients run in this process with one question in flight each, sharing
// the machine's cores with the server, so the figures are a lower bound.
// Results in bench/results/dns.json; it never fails on timing.
//
//	go run ./bench/dns [-services 1000] [-clients 32] [-duration 5s] [-short]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
	clusterdns "github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/metrics"
)

func main() {
	out := flag.String("out", "bench/results", "directory for JSON results")
	services := flag.Int("services", 1000, "Services in the fake clientset")
	clients := flag.Int("clients", 32, "concurrent clients")
	duration := flag.Duration("duration", 5*time.Second, "time per query kind")
	short := flag.Bool("short", os.Getenv("SHORT") != "", "a quick run (CI regression guard)")
	flag.Parse()
	if *short {
		*services, *clients, *duration = 50, 4, 300*time.Millisecond
	}
	if err := run(*out, *services, *clients, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func objects(n int) []runtime.Object {
	var objs []runtime.Object
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		if i%10 == 9 { // every tenth is headless with three endpoints
			objs = append(objs, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
				Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
					Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}},
			})
			ready, port, proto, pname := true, int32(5432), corev1.ProtocolTCP, "pg"
			s := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &proto}},
			}
			for j := range 3 {
				h := fmt.Sprintf("%s-%d", name, j)
				s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.42.%d.%d", i/200, (i%200)+j)},
					Hostname: &h, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
			}
			objs = append(objs, s)
			continue
		}
		objs = append(objs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.43.%d.%d", (i+1)>>8, (i+1)&0xff), ClusterIPs: []string{fmt.Sprintf("10.43.%d.%d", (i+1)>>8, (i+1)&0xff)},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		})
	}
	return objs
}

// upstream answers every forwarded question with one A record, so the
// forwarding path is measured without the network.
func upstream() (string, func(), error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		if q := r.Question[0]; q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(192, 0, 2, 1)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	return pc.LocalAddr().String(), func() { _ = srv.Shutdown() }, nil
}

func run(out string, n, clients int, d time.Duration) error {
	up, stop, err := upstream()
	if err != nil {
		return err
	}
	defer stop()
	s, err := clusterdns.New(clusterdns.Config{Client: fake.NewSimpleClientset(objects(n)...), Listen: []string{"127.0.0.1:0"},
		Upstreams: []string{up}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-s.Ready():
	case err := <-done:
		return fmt.Errorf("dns server ended: %v", err)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("dns server not ready after 30s")
	}
	addr := s.Addr()
	last := fmt.Sprintf("svc-%d.default.svc.cluster.local.", n-2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := exchange(addr, last, dns.TypeA)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not served after 30s: %v %v", last, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	report := benchutil.NewReport("dns")
	report.Results["services"] = n
	report.Results["clients"] = clients
	cases := []struct {
		name  string
		names []string
		qtype uint16
	}{
		{"cluster_A", []string{"svc-0.default.svc.cluster.local.", fmt.Sprintf("svc-%d.default.svc.cluster.local.", n/2)}, dns.TypeA},
		{"headless_A", []string{"svc-9.default.svc.cluster.local."}, dns.TypeA},
		{"srv", []string{"_pg._tcp.svc-9.default.svc.cluster.local."}, dns.TypeSRV},
		{"nxdomain", []string{"nope.default.svc.cluster.local."}, dns.TypeA},
		{"cached_external", []string{"example.com.", "www.example.com."}, dns.TypeA},
	}
	fmt.Printf("\n%d Services, %d clients, %v each\n\n| query | queries/s | p50 | p99 | failures |\n|---|---|---|---|---|\n", n, clients, d)
	for _, c := range cases {
		sum, fails := hammer(addr, c.names, c.qtype, clients, d)
		report.Results[c.name] = sum
		fmt.Printf("| %s | %.0f | %.3f ms | %.3f ms | %d |\n", c.name, sum.PerSecond, sum.P50, sum.P99, fails)
	}
	report.Results["cpu_seconds"] = metrics.ProcessCPU().Seconds()
	path, err := report.Write(out)
	if err != nil {
		return err
	}
	fmt.Println("results:", path)
	return nil
}

func exchange(addr, name string, qtype uint16) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, qtype), addr)
	return r, err
}

// hammer asks names round-robin from n clients for d and summarises.
func hammer(addr string, names []string, qtype uint16, n int, d time.Duration) (benchutil.Summary, int64) {
	for _, name := range names {
		_, _ = exchange(addr, name, qtype) // warm caches
	}
	var fails atomic.Int64
	lat := make([][]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := cl.Dial(addr)
			if err != nil {
				fails.Add(1)
				return
			}
			defer conn.Close()
			for i := 0; time.Now().Before(stop); i++ {
				m := new(dns.Msg).SetQuestion(names[i%len(names)], qtype)
				t0 := time.Now()
				if _, _, err := cl.ExchangeWithConn(m, conn); err != nil {
					fails.Add(1)
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return benchutil.Summarize(all, time.Since(start)), fails.Load()
}
