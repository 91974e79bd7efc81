package dns_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes"

	clusterdns "github.com/skiff-sh/skiff/internal/dns"
)

// startDNS runs a cluster DNS server on a random loopback port until the
// test ends, and returns it once it is ready.
func startDNS(t testing.TB, client kubernetes.Interface, upstreams ...string) *clusterdns.Server {
	t.Helper()
	s, err := clusterdns.New(clusterdns.Config{
		Client:    client,
		Listen:    []string{"127.0.0.1:0"},
		Upstreams: upstreams,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("cluster DNS not ready after 30s")
	}
	return s
}

// query is one question to ask, over "udp" or "tcp". bufsize > 0 adds an
// EDNS0 OPT record offering that buffer.
type query struct {
	name    string
	qtype   uint16
	net     string
	bufsize uint16
}

func ask(t testing.TB, addr string, q query) *dns.Msg {
	t.Helper()
	r, err := exchange(addr, q)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.TypeToString[q.qtype], q.name, q.net, err)
	}
	return r
}

func exchange(addr string, q query) (*dns.Msg, error) {
	if q.net == "" {
		q.net = "udp"
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(q.name), q.qtype)
	if q.bufsize > 0 {
		m.SetEdns0(q.bufsize, false)
	}
	c := &dns.Client{Net: q.net, Timeout: 5 * time.Second}
	if q.bufsize > 0 {
		c.UDPSize = q.bufsize
	}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// rdata lists the answer section's data (the record text after the
// header), sorted by the server's order.
func rdata(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		h := rr.Header().String()
		out = append(out, strings.TrimSpace(strings.TrimPrefix(rr.String(), h)))
	}
	return out
}

// fakeUpstream is an upstream resolver for the forwarding tests. It
// counts the questions it gets, by "name/proto".
type fakeUpstream struct {
	addr string
	mu   sync.Mutex
	seen map[string]int
}

func (u *fakeUpstream) count(name, proto string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[strings.ToLower(dns.Fqdn(name))+"/"+proto]
}

func (u *fakeUpstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.seen {
		n += c
	}
	return n
}

// startUpstream serves a small fixed world over UDP and TCP:
// example.com and www.example.com have addresses, short.example.com has
// one with a 1s TTL, big.example.com has 60 TXT records (too many for a
// UDP answer), fail.example.com fails, and every other name is NXDOMAIN.
func startUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{seen: map[string]int{}}
	pc, ln, err := clusterdns.ListenBoth("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	servers := []*dns.Server{
		{PacketConn: pc, Handler: u.handler("udp")},
		{Listener: ln, Handler: u.handler("tcp")},
	}
	var wg sync.WaitGroup
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() { defer wg.Done(); _ = srv.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(func() {
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
		wg.Wait()
	})
	return u
}

func (u *fakeUpstream) handler(proto string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		q := req.Question[0]
		name := strings.ToLower(q.Name)
		u.mu.Lock()
		u.seen[name+"/"+proto]++
		u.mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		soa := &dns.SOA{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns: "ns.example.com.", Mbox: "root.example.com.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1, Minttl: 60}
		a := func(ip string, ttl uint32) dns.RR {
			return &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip)}
		}
		switch {
		case name == "fail.example.com.":
			m.Rcode = dns.RcodeServerFailure
		case q.Qtype != dns.TypeA && q.Qtype != dns.TypeTXT:
			m.Ns = []dns.RR{soa} // NODATA
		case name == "example.com.":
			m.Answer = []dns.RR{a("192.0.2.10", 300)}
		case name == "www.example.com.":
			m.Answer = []dns.RR{a("192.0.2.20", 300)}
		case name == "short.example.com.":
			m.Answer = []dns.RR{a("192.0.2.30", 1)}
		case name == "big.example.com.":
			for i := range 60 {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
					Txt: []string{strings.Repeat(string(rune('a'+i%26)), 40)}})
			}
		default:
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{soa}
		}
		size := dns.MaxMsgSize
		if proto == "udp" {
			size = dns.MinMsgSize
			if opt := req.IsEdns0(); opt != nil {
				size = int(opt.UDPSize())
				m.SetEdns0(opt.UDPSize(), false)
			}
		}
		m.Truncate(size)
		_ = w.WriteMsg(m)
	}
}
