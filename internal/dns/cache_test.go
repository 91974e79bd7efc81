package dns

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeClock is a settable clock for cache tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func answerMsg(name string, ttls ...uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Response = true
	for i, ttl := range ttls {
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr(name, dns.TypeA, ttl), A: net.IPv4(192, 0, 2, byte(i+1))})
	}
	return m
}

func negativeMsg(name string, rcode int, soaTTL, minTTL uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Rcode = rcode
	m.Ns = []dns.RR{&dns.SOA{Hdr: hdr("example.", dns.TypeSOA, soaTTL), Ns: "ns.example.", Mbox: "h.example.", Minttl: minTTL}}
	return m
}

func TestCacheAgesTTLsAndExpires(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := newResponseCache(100, clock.now)
	k := keyOf(dns.Question{Name: "A.Example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)
	c.put(k, answerMsg("a.example.", 30, 10))

	clock.t = clock.t.Add(4 * time.Second)
	m, negative, ok := c.get(keyOf(dns.Question{Name: "a.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false))
	if !ok || negative {
		t.Fatalf("get after 4s: ok=%v negative=%v", ok, negative)
	}
	if got := []uint32{m.Answer[0].Header().Ttl, m.Answer[1].Header().Ttl}; got[0] != 26 || got[1] != 6 {
		t.Errorf("TTLs after 4s %v, want [26 6]", got)
	}
	m.Answer[0].Header().Ttl = 999 // the copy is the caller's
	if again, _, _ := c.get(k); again.Answer[0].Header().Ttl != 26 {
		t.Error("modifying a returned answer changed the cached one")
	}
	// The entry lives as long as its smallest TTL.
	clock.t = clock.t.Add(6 * time.Second)
	if _, _, ok := c.get(k); ok {
		t.Error("entry outlived its smallest TTL")
	}
	if _, _, ok := c.get(keyOf(dns.Question{Name: "a.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, true, false)); ok {
		t.Error("a DO question was answered from a non-DO entry")
	}
}

func TestCacheTTL(t *testing.T) {
	truncated := answerMsg("t.example.", 60)
	truncated.Truncated = true
	servfail := answerMsg("s.example.")
	servfail.Rcode = dns.RcodeServerFailure
	noSOA := answerMsg("n.example.")
	noSOA.Rcode = dns.RcodeNameError
	for _, tc := range []struct {
		name     string
		m        *dns.Msg
		ttl      time.Duration
		negative bool
		ok       bool
	}{
		{"positive, smallest TTL", answerMsg("p.example.", 300, 60), time.Minute, false, true},
		{"positive, capped", answerMsg("p.example.", 86400*7), maxPositiveTTL, false, true},
		{"zero TTL", answerMsg("z.example.", 0), 0, false, false},
		{"NXDOMAIN, SOA minimum", negativeMsg("x.example.", dns.RcodeNameError, 3600, 30), 30 * time.Second, true, true},
		{"NODATA, SOA TTL below minimum", negativeMsg("x.example.", dns.RcodeSuccess, 10, 3600), 10 * time.Second, true, true},
		{"negative, capped", negativeMsg("x.example.", dns.RcodeNameError, 86400, 86400), maxNegativeTTL, true, true},
		{"negative without SOA", noSOA, 0, true, false},
		{"truncated", truncated, 0, false, false},
		{"SERVFAIL", servfail, 0, false, false},
	} {
		ttl, negative, ok := cacheTTL(tc.m)
		if ttl != tc.ttl || negative != tc.negative || ok != tc.ok {
			t.Errorf("%s: cacheTTL = %v %v %v, want %v %v %v", tc.name, ttl, negative, ok, tc.ttl, tc.negative, tc.ok)
		}
	}
}

func TestCacheIsCapped(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	c := newResponseCache(64, clock.now)
	for i := range 1000 {
		name := dns.Fqdn(net.IPv4(10, 0, byte(i/256), byte(i)).String() + ".example")
		c.put(keyOf(dns.Question{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false), answerMsg(name, 60))
	}
	if n := c.len(); n > 64 {
		t.Errorf("cache of 64 holds %d entries", n)
	}
	// Expired entries make room before live ones are dropped.
	clock.t = clock.t.Add(time.Hour)
	c.put(keyOf(dns.Question{Name: "new.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false), answerMsg("new.example.", 60))
	if n := c.len(); n > 64 {
		t.Errorf("after expiry the cache holds %d entries", n)
	}
	if _, _, ok := c.get(keyOf(dns.Question{Name: "new.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)); !ok {
		t.Error("the newest entry is missing")
	}
}
