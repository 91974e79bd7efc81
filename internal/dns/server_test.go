package dns_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	clusterdns "github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/metrics"
)

// The server tests share one API server, one fake upstream and one
// cluster DNS server: starting etcd and an API server is the slow part.
func TestServer(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	up := startUpstream(t)
	// A dead upstream first: forwarding must fail over to the live one.
	dead := deadUDPAddr(t)
	srv := startDNS(t, client, dead, up.addr)
	addr := srv.Addr()

	web := createService(t, ctx, client, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP},
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
		}},
	})
	createService(t, ctx, client, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}},
	})
	createSlice(t, ctx, client, ns, "db", "db-1", 5432, []endpointSpec{
		{ip: "10.42.0.10", hostname: "db-0", ready: true},
		{ip: "10.42.0.11", hostname: "db-1", ready: true},
		{ip: "10.42.0.12", hostname: "db-2", ready: false},
		{ip: "10.42.0.13", ready: true},
	})
	createService(t, ctx, client, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "search"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "www.example.com"},
	})
	name := func(s string) string { return s + "." + ns + ".svc.cluster.local." }
	// Every answer is served from the informers' caches; wait for the
	// last object of each informer to arrive before checking them (the
	// Services and the EndpointSlices are watched apart, so either may
	// lag).
	controllertest.Eventually(t, 10*time.Second, func() error {
		if r, err := exchange(addr, query{name: "db-1." + name("db"), qtype: dns.TypeA}); err != nil || r.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("db-1 not served yet: %v %v", r, err)
		}
		if r, err := exchange(addr, query{name: name("search"), qtype: dns.TypeCNAME}); err != nil || r.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("service search not served yet: %v %v", r, err)
		}
		return nil
	})

	t.Run("kubernetes.default", func(t *testing.T) {
		svc, err := client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, proto := range []string{"udp", "tcp"} {
			r := ask(t, addr, query{name: "kubernetes.default.svc.cluster.local", qtype: dns.TypeA, net: proto})
			wantAnswer(t, r, dns.RcodeSuccess, svc.Spec.ClusterIP)
			if !r.Authoritative {
				t.Errorf("%s: cluster answer is not authoritative", proto)
			}
		}
		r := ask(t, addr, query{name: "_https._tcp.kubernetes.default.svc.cluster.local", qtype: dns.TypeSRV})
		wantAnswer(t, r, dns.RcodeSuccess, "0 100 443 kubernetes.default.svc.cluster.local.")
	})

	t.Run("service", func(t *testing.T) {
		r := ask(t, addr, query{name: name("web"), qtype: dns.TypeA})
		wantAnswer(t, r, dns.RcodeSuccess, web.Spec.ClusterIP)
		if r.Answer[0].Header().Ttl != 5 {
			t.Errorf("TTL %d, want 5", r.Answer[0].Header().Ttl)
		}
		// IPv4-only: AAAA is NODATA, with the SOA for negative caching.
		wantNegative(t, ask(t, addr, query{name: name("web"), qtype: dns.TypeAAAA}), dns.RcodeSuccess)
		r = ask(t, addr, query{name: "_http._tcp." + name("web"), qtype: dns.TypeSRV, net: "tcp"})
		wantAnswer(t, r, dns.RcodeSuccess, "0 100 80 "+name("web"))
		wantExtra(t, r, web.Spec.ClusterIP)
		wantAnswer(t, ask(t, addr, query{name: "_dns._udp." + name("web"), qtype: dns.TypeSRV}), dns.RcodeSuccess, "0 100 53 "+name("web"))
		r = ask(t, addr, query{name: name("web"), qtype: dns.TypeSRV})
		wantAnswer(t, r, dns.RcodeSuccess, "0 33 80 "+name("web"), "0 33 9090 "+name("web"), "0 33 53 "+name("web"))
		wantNegative(t, ask(t, addr, query{name: "_http._udp." + name("web"), qtype: dns.TypeSRV}), dns.RcodeNameError)
		wantNegative(t, ask(t, addr, query{name: name("web"), qtype: dns.TypeTXT}), dns.RcodeSuccess)
	})

	t.Run("headless", func(t *testing.T) {
		r := ask(t, addr, query{name: name("db"), qtype: dns.TypeA})
		wantAnswer(t, r, dns.RcodeSuccess, "10.42.0.10", "10.42.0.11", "10.42.0.13")
		wantAnswer(t, ask(t, addr, query{name: "db-0." + name("db"), qtype: dns.TypeA}), dns.RcodeSuccess, "10.42.0.10")
		wantAnswer(t, ask(t, addr, query{name: "10-42-0-13." + name("db"), qtype: dns.TypeA}), dns.RcodeSuccess, "10.42.0.13")
		wantNegative(t, ask(t, addr, query{name: "db-2." + name("db"), qtype: dns.TypeA}), dns.RcodeNameError)
		r = ask(t, addr, query{name: "_pg._tcp." + name("db"), qtype: dns.TypeSRV})
		wantAnswer(t, r, dns.RcodeSuccess, "0 33 5432 db-0."+name("db"), "0 33 5432 db-1."+name("db"), "0 33 5432 10-42-0-13."+name("db"))
		wantExtra(t, r, "10.42.0.10", "10.42.0.11", "10.42.0.13")
		wantAnswer(t, ask(t, addr, query{name: "11.0.42.10.in-addr.arpa", qtype: dns.TypePTR}), dns.RcodeSuccess, "db-1."+name("db"))
	})

	t.Run("externalname", func(t *testing.T) {
		r := ask(t, addr, query{name: name("search"), qtype: dns.TypeA})
		wantAnswer(t, r, dns.RcodeSuccess, "www.example.com.", "192.0.2.20")
		wantAnswer(t, ask(t, addr, query{name: name("search"), qtype: dns.TypeCNAME}), dns.RcodeSuccess, "www.example.com.")
	})

	t.Run("negative", func(t *testing.T) {
		before := up.total()
		for _, n := range []string{
			name("nothere"),
			"nothere.nons.svc.cluster.local.",
			// What a resolver asks when a search domain is applied to a
			// name that was already complete.
			name("web") + "svc.cluster.local.",
			name("web") + ns + ".svc.cluster.local.",
			name("web") + "cluster.local.",
		} {
			for _, proto := range []string{"udp", "tcp"} {
				wantNegative(t, ask(t, addr, query{name: n, qtype: dns.TypeA, net: proto}), dns.RcodeNameError)
			}
		}
		wantNegative(t, ask(t, addr, query{name: ns + ".svc.cluster.local.", qtype: dns.TypeA}), dns.RcodeSuccess)
		if after := up.total(); after != before {
			t.Errorf("cluster names reached upstream: %d questions", after-before)
		}
		r := ask(t, addr, query{name: "cluster.local.", qtype: dns.TypeSOA})
		if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("SOA answer %v", r.Answer)
		}
		r = ask(t, addr, query{name: "cluster.local.", qtype: dns.TypeNS})
		wantAnswer(t, r, dns.RcodeSuccess, "ns.dns.cluster.local.")
		wantExtra(t, r, "127.0.0.1")
		wantAnswer(t, ask(t, addr, query{name: "dns-version.cluster.local.", qtype: dns.TypeTXT}), dns.RcodeSuccess, `"1.0.1"`)
	})

	t.Run("ptr", func(t *testing.T) {
		rev, _ := dns.ReverseAddr(web.Spec.ClusterIP)
		wantAnswer(t, ask(t, addr, query{name: rev, qtype: dns.TypePTR}), dns.RcodeSuccess, name("web"))
		// An address the cluster does not know goes upstream (which has no
		// PTR records: NODATA).
		before := up.count("9.9.9.10.in-addr.arpa.", "udp")
		wantNegative(t, ask(t, addr, query{name: "9.9.9.10.in-addr.arpa.", qtype: dns.TypePTR}), dns.RcodeSuccess)
		if up.count("9.9.9.10.in-addr.arpa.", "udp") != before+1 {
			t.Error("an unknown reverse name was not forwarded")
		}
	})

	t.Run("pod", func(t *testing.T) {
		wantAnswer(t, ask(t, addr, query{name: "10-42-3-4." + ns + ".pod.cluster.local.", qtype: dns.TypeA}), dns.RcodeSuccess, "10.42.3.4")
	})

	t.Run("updates", func(t *testing.T) {
		createService(t, ctx, client, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "moving"},
			Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})
		n := name("moving")
		waitAnswer(t, addr, n, dns.RcodeNameError) // headless, no endpoints
		slice := createSlice(t, ctx, client, ns, "moving", "moving-1", 80, []endpointSpec{{ip: "10.42.5.1", ready: true}})
		waitAnswer(t, addr, n, dns.RcodeSuccess, "10.42.5.1")
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.42.5.2"}})
		slice.Endpoints[0].Conditions.Ready = ptr(false)
		if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitAnswer(t, addr, n, dns.RcodeSuccess, "10.42.5.2")
		if err := client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, slice.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitAnswer(t, addr, n, dns.RcodeNameError)
	})

	t.Run("truncation", func(t *testing.T) {
		createService(t, ctx, client, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "many"},
			Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})
		var eps []endpointSpec
		var want []string
		for i := range 100 {
			ip := fmt.Sprintf("10.42.%d.%d", 10+i/50, 1+i%50)
			eps = append(eps, endpointSpec{ip: ip, ready: true})
			want = append(want, ip)
		}
		createSlice(t, ctx, client, ns, "many", "many-1", 80, eps)
		n := name("many")
		waitAnswer(t, addr, n, dns.RcodeSuccess, want...)

		for _, bufsize := range []uint16{0, 512, 1232, 4096} {
			r := ask(t, addr, query{name: n, qtype: dns.TypeA, bufsize: bufsize})
			if !r.Truncated || len(r.Answer) >= 100 {
				t.Errorf("UDP bufsize %d: TC=%v with %d answers, want TC and fewer than 100", bufsize, r.Truncated, len(r.Answer))
			}
			r.Compress = true // as it was sent
			if packed, _ := r.Pack(); len(packed) > max(512, int(min(bufsize, 1232))) {
				t.Errorf("UDP bufsize %d: answer of %d bytes", bufsize, len(packed))
			}
		}
		r := ask(t, addr, query{name: n, qtype: dns.TypeA, net: "tcp"})
		if r.Truncated || len(r.Answer) != 100 {
			t.Errorf("TCP: TC=%v with %d answers, want all 100", r.Truncated, len(r.Answer))
		}
		// SRV answers carry addresses in the additional section; those are
		// dropped before the answer is, without TC, when only they do not fit.
		r = ask(t, addr, query{name: "_http._tcp." + n, qtype: dns.TypeSRV, net: "tcp"})
		if len(r.Answer) != 100 || len(r.Extra) != 100 {
			t.Errorf("TCP SRV: %d answers, %d additional, want 100 each", len(r.Answer), len(r.Extra))
		}
		r = ask(t, addr, query{name: "_pg._tcp." + name("db"), qtype: dns.TypeSRV, bufsize: 512})
		if r.Truncated || len(r.Answer) != 3 {
			t.Errorf("small SRV over UDP: TC=%v, %d answers", r.Truncated, len(r.Answer))
		}
	})

	t.Run("forwarding", func(t *testing.T) {
		for i := range 3 {
			r := ask(t, addr, query{name: "example.com", qtype: dns.TypeA})
			wantAnswer(t, r, dns.RcodeSuccess, "192.0.2.10")
			if r.Authoritative {
				t.Error("a forwarded answer claims authority")
			}
			if i > 0 && r.Answer[0].Header().Ttl > 300 {
				t.Errorf("cached TTL %d above the original", r.Answer[0].Header().Ttl)
			}
		}
		if c := up.count("example.com", "udp"); c != 1 {
			t.Errorf("upstream asked %d times for a cached name, want 1", c)
		}
		for range 3 {
			wantNegative(t, ask(t, addr, query{name: "nx.example.com", qtype: dns.TypeA, net: "tcp"}), dns.RcodeNameError)
		}
		if c := up.count("nx.example.com", "udp"); c != 1 {
			t.Errorf("upstream asked %d times for a cached NXDOMAIN, want 1", c)
		}
		// Names differing only in case share a cache entry, and the answer
		// echoes the case asked.
		r := ask(t, addr, query{name: "EXAMPLE.com", qtype: dns.TypeA})
		if r.Question[0].Name != "EXAMPLE.com." || r.Answer[0].Header().Name != "EXAMPLE.com." {
			t.Errorf("answer to EXAMPLE.com names %q / %q", r.Question[0].Name, r.Answer[0].Header().Name)
		}
		if c := up.count("example.com", "udp"); c != 1 {
			t.Errorf("upstream asked %d times after a case variant, want 1", c)
		}
		// An expired entry is fetched again.
		ask(t, addr, query{name: "short.example.com", qtype: dns.TypeA})
		time.Sleep(1100 * time.Millisecond)
		ask(t, addr, query{name: "short.example.com", qtype: dns.TypeA})
		if c := up.count("short.example.com", "udp"); c != 2 {
			t.Errorf("upstream asked %d times for a 1s-TTL name over 1.1s, want 2", c)
		}
		// SERVFAIL is not cached.
		for range 2 {
			if r := ask(t, addr, query{name: "fail.example.com", qtype: dns.TypeA}); r.Rcode != dns.RcodeServerFailure {
				t.Errorf("fail.example.com: %s", dns.RcodeToString[r.Rcode])
			}
		}
		if c := up.count("fail.example.com", "udp"); c != 2 {
			t.Errorf("upstream asked %d times for a failing name, want 2", c)
		}
	})

	t.Run("forwarded truncation", func(t *testing.T) {
		// Upstream's UDP answer is truncated: the server fetches it over
		// TCP, caches it whole, and truncates it again for a UDP client.
		r := ask(t, addr, query{name: "big.example.com", qtype: dns.TypeTXT, bufsize: 1232})
		if !r.Truncated {
			t.Errorf("UDP: TC not set with %d answers", len(r.Answer))
		}
		if up.count("big.example.com", "tcp") != 1 {
			t.Errorf("upstream TCP retries: %d, want 1", up.count("big.example.com", "tcp"))
		}
		r = ask(t, addr, query{name: "big.example.com", qtype: dns.TypeTXT, net: "tcp"})
		if r.Truncated || len(r.Answer) != 60 {
			t.Errorf("TCP: TC=%v with %d answers, want 60", r.Truncated, len(r.Answer))
		}
		if up.count("big.example.com", "udp") != 1 || up.count("big.example.com", "tcp") != 1 {
			t.Error("the TCP question was not answered from the cache")
		}
	})

	t.Run("edns", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion(name("web"), dns.TypeA)
		m.SetEdns0(4096, false)
		m.IsEdns0().SetVersion(1)
		r, _, err := (&dns.Client{}).Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeBadVers {
			t.Errorf("EDNS version 1: rcode %s, want BADVERS", dns.RcodeToString[r.Rcode])
		}
		r = ask(t, addr, query{name: name("web"), qtype: dns.TypeA, bufsize: 4096})
		if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != 1232 {
			t.Errorf("EDNS answer OPT %v, want one offering 1232", opt)
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		if err := srv.Run(ctx); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("second Run: %v", err)
		}
		// A port already served: Run fails with the bind error, and
		// leaves nothing running.
		other, err := clusterdns.New(clusterdns.Config{Client: client, Listen: []string{"127.0.0.1:0", addr}, Upstreams: []string{up.addr},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := other.Run(ctx); err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("Run on a taken port: %v", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Run on a taken port took %v to fail", d)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		families, err := metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				key := f.GetName()
				for _, l := range m.GetLabel() {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
				got[key] = m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
			}
		}
		for _, k := range []string{
			"skiff_dns_requests_total,proto=udp,rcode=NOERROR,source=zone,type=A",
			"skiff_dns_requests_total,proto=tcp,rcode=NXDOMAIN,source=cache,type=A",
			"skiff_dns_requests_total,proto=udp,rcode=NOERROR,source=upstream,type=A",
			"skiff_dns_cache_hits_total,kind=positive",
			"skiff_dns_cache_hits_total,kind=negative",
			"skiff_dns_cache_misses_total",
			"skiff_dns_forward_duration_seconds,upstream=" + up.addr,
			"skiff_dns_forward_errors_total,upstream=" + dead,
		} {
			if got[k] == 0 {
				t.Errorf("no %s", k)
			}
		}
	})
}
