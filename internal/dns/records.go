package dns

import (
	"net"

	"github.com/miekg/dns"
)

// Record constructors. Owner names are used as given: answers echo the
// question's spelling (clients that randomise case check it), targets are
// canonical lower case.

func hdr(name string, rrtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

// addressRR is an A record for an IPv4 address and an AAAA record otherwise.
func addressRR(name string, ip net.IP, ttl uint32) dns.RR {
	if v4 := ip.To4(); v4 != nil {
		return &dns.A{Hdr: hdr(name, dns.TypeA, ttl), A: v4}
	}
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, ttl), AAAA: ip}
}

// addressRRs are the records of ips that answer qtype (A, AAAA, or both
// for ANY).
func addressRRs(name string, ips []net.IP, qtype uint16, ttl uint32) []dns.RR {
	var out []dns.RR
	for _, ip := range ips {
		if familyMatches(ip, qtype) {
			out = append(out, addressRR(name, ip, ttl))
		}
	}
	return out
}

func familyMatches(ip net.IP, qtype uint16) bool {
	v4 := ip.To4() != nil
	return qtype == dns.TypeANY || qtype == dns.TypeA && v4 || qtype == dns.TypeAAAA && !v4
}

func cnameRR(name, target string, ttl uint32) dns.RR {
	return &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME, ttl), Target: target}
}

func ptrRR(name, target string, ttl uint32) dns.RR {
	return &dns.PTR{Hdr: hdr(name, dns.TypePTR, ttl), Ptr: target}
}

func txtRR(name, text string, ttl uint32) dns.RR {
	return &dns.TXT{Hdr: hdr(name, dns.TypeTXT, ttl), Txt: []string{text}}
}

func nsRR(name, target string, ttl uint32) dns.RR {
	return &dns.NS{Hdr: hdr(name, dns.TypeNS, ttl), Ns: target}
}

// srvRRs gives every record priority 0 and an equal share of the weight,
// as CoreDNS does: the spec leaves both open and no target is preferred.
func srvRRs(name string, entries []srvEntry, ttl uint32) []dns.RR {
	if len(entries) == 0 {
		return nil
	}
	weight := uint16(max(1, 100/len(entries)))
	out := make([]dns.RR, 0, len(entries))
	for _, e := range entries {
		out = append(out, &dns.SRV{Hdr: hdr(name, dns.TypeSRV, ttl), Priority: 0, Weight: weight, Port: e.port, Target: e.target})
	}
	return out
}
