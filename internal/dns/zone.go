package dns

import (
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// schemaVersion is the version of the DNS schema served, published at
// dns-version.<zone> as the spec requires.
const schemaVersion = "1.0.1"

// maxChase bounds ExternalName Services that name other Services in the
// zone, so a loop of them ends.
const maxChase = 8

// zone answers the cluster domain from the catalog. It is a pure function
// of the question and the catalog's current contents.
type zone struct {
	origin  string // canonical, e.g. "cluster.local."
	dotted  string // "." + origin, for suffix tests
	ttl     uint32
	cat     catalog
	soa     *dns.SOA
	nsName  string   // ns.dns.<zone>, the zone's NS target
	nsAddrs []net.IP // its addresses: the addresses the server listens on
}

func newZone(origin string, ttl uint32, cat catalog, nsAddrs []net.IP, serial uint32) *zone {
	z := &zone{origin: origin, dotted: "." + origin, ttl: ttl, cat: cat, nsName: "ns.dns." + origin, nsAddrs: nsAddrs}
	z.soa = &dns.SOA{
		Hdr: hdr(origin, dns.TypeSOA, ttl),
		Ns:  z.nsName, Mbox: "hostmaster." + origin,
		Serial: serial, Refresh: 7200, Retry: 1800, Expire: 86400,
		// The negative-caching TTL (RFC 2308): as short as the records,
		// so a Service created after a miss resolves within a TTL.
		Minttl: ttl,
	}
	return z
}

// serialNow is a SOA serial from the clock, as CoreDNS's.
func serialNow() uint32 { return uint32(time.Now().Unix()) }

// result is the zone's answer to one question.
type result struct {
	rcode             int
	answer, ns, extra []dns.RR
	// chase names a target outside the zone (an ExternalName) whose
	// records of the question's type complete the answer's CNAME.
	chase string
}

// lookup answers q if its name is the zone's or a reverse name of a
// ClusterIP or headless endpoint; ok is false when q belongs upstream.
func (z *zone) lookup(q dns.Question) (r result, ok bool) {
	name := strings.ToLower(dns.Fqdn(q.Name))
	if z.contains(name) {
		return z.lookupName(q.Name, name, q.Qtype, 0), true
	}
	if q.Qtype == dns.TypePTR {
		return z.lookupPTR(q.Name, name)
	}
	return result{}, false
}

// inZone says whether name (any case) is at or below the zone's origin.
func (z *zone) inZone(name string) bool {
	return z.contains(strings.ToLower(dns.Fqdn(name)))
}

// contains is inZone for a canonical name; a suffix test on whole labels
// (dns.IsSubDomain splits both names, which shows in profiles).
func (z *zone) contains(name string) bool {
	return name == z.origin || strings.HasSuffix(name, z.dotted)
}

// lookupName answers a name inside the zone. owner is the name as asked,
// name its canonical form.
func (z *zone) lookupName(owner, name string, qtype uint16, depth int) result {
	labels := dns.SplitDomainName(strings.TrimSuffix(name, z.origin))
	n := len(labels)
	switch {
	case n == 0:
		return z.apex(owner, qtype)
	case n == 1 && labels[0] == "dns-version":
		if qtype == dns.TypeTXT || qtype == dns.TypeANY {
			return z.answer(txtRR(owner, schemaVersion, z.ttl))
		}
		return z.noData()
	case labels[n-1] == "dns":
		return z.nameServer(owner, labels[:n-1], qtype)
	case labels[n-1] == "svc":
		return z.lookupService(owner, labels[:n-1], qtype, depth)
	case labels[n-1] == "pod":
		return z.lookupPod(owner, labels[:n-1], qtype)
	}
	return z.nxDomain()
}

func (z *zone) apex(owner string, qtype uint16) result {
	switch qtype {
	case dns.TypeSOA:
		soa := *z.soa
		soa.Hdr.Name = owner
		return z.answer(&soa)
	case dns.TypeNS:
		r := z.answer(nsRR(owner, z.nsName, z.ttl))
		r.extra = addressRRs(z.nsName, z.nsAddrs, dns.TypeANY, z.ttl)
		return r
	}
	return z.noData()
}

// nameServer answers ns.dns.<zone> (and the empty non-terminal dns.<zone>).
func (z *zone) nameServer(owner string, labels []string, qtype uint16) result {
	switch {
	case len(labels) == 0:
		return z.noData()
	case len(labels) == 1 && labels[0] == "ns":
		return z.answer(addressRRs(owner, z.nsAddrs, qtype, z.ttl)...)
	}
	return z.nxDomain()
}

// lookupPod answers <a-b-c-d>.<ns>.pod.<zone> from the name alone, as
// CoreDNS's "pods insecure" mode does: the spec's deprecated pod records
// exist for every address, whether or not a pod has it.
func (z *zone) lookupPod(owner string, labels []string, qtype uint16) result {
	switch len(labels) {
	case 0, 1: // pod.<zone> and <ns>.pod.<zone> have names below them
		return z.noData()
	case 2:
		ip := undash(labels[0])
		if ip == nil {
			return z.nxDomain()
		}
		return z.answer(addressRRs(owner, []net.IP{ip}, qtype, z.ttl)...)
	}
	return z.nxDomain()
}

// undash parses a pod name's address: 10-42-0-7 or fd00--7.
func undash(label string) net.IP {
	if strings.Count(label, "-") == 3 {
		if ip := net.ParseIP(strings.ReplaceAll(label, "-", ".")); ip != nil && ip.To4() != nil {
			return ip
		}
	}
	if ip := net.ParseIP(strings.ReplaceAll(label, "-", ":")); ip != nil && ip.To4() == nil {
		return ip
	}
	return nil
}

// answer is a NOERROR result with rrs, or NODATA when there are none.
func (z *zone) answer(rrs ...dns.RR) result {
	if len(rrs) == 0 {
		return z.noData()
	}
	return result{rcode: dns.RcodeSuccess, answer: rrs}
}

// noData: the name exists, the type does not (RFC 2308 NODATA).
func (z *zone) noData() result {
	return result{rcode: dns.RcodeSuccess, ns: []dns.RR{z.soa}}
}

func (z *zone) nxDomain() result {
	return result{rcode: dns.RcodeNameError, ns: []dns.RR{z.soa}}
}
