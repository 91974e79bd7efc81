package dns

import (
	"net"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// srvEntry is one SRV record's data before it is given an owner name.
type srvEntry struct {
	portName string // "" for an unnamed port
	proto    string // lower case: tcp, udp, sctp
	port     uint16
	target   string
}

// lookupService answers names below svc.<zone>; labels are the ones left
// of "svc", leftmost first.
func (z *zone) lookupService(owner string, labels []string, qtype uint16, depth int) result {
	n := len(labels)
	switch {
	case n == 0: // svc.<zone>
		return z.noData()
	case n == 1: // <ns>.svc.<zone>
		if z.cat.namespaceHasServices(labels[0]) {
			return z.noData()
		}
		return z.nxDomain()
	case n > 4:
		return z.nxDomain()
	}
	svc := z.cat.service(labels[n-1], labels[n-2])
	if svc == nil {
		return z.nxDomain()
	}
	var eps []endpoint
	if isHeadless(svc) {
		// A headless Service without ready endpoints has no records at all:
		// the spec asks for NXDOMAIN.
		if eps = z.cat.readyEndpoints(svc); len(eps) == 0 {
			return z.nxDomain()
		}
	}
	switch {
	case n == 2: // <svc>.<ns>.svc.<zone>
		return z.serviceName(owner, svc, eps, qtype, depth)
	case n == 3 && strings.HasPrefix(labels[0], "_"): // _<proto>.<svc>..., an empty non-terminal
		for _, e := range z.srvEntries(svc, eps) {
			if e.portName != "" && "_"+e.proto == labels[0] {
				return z.noData()
			}
		}
		return z.nxDomain()
	case n == 3: // <hostname>.<svc>.<ns>.svc.<zone>
		return z.endpointName(owner, labels[0], eps, qtype)
	}
	// _<port>._<proto>.<svc>.<ns>.svc.<zone>
	var entries []srvEntry
	if port, ok := strings.CutPrefix(labels[0], "_"); ok {
		for _, e := range z.srvEntries(svc, eps) {
			if e.portName != "" && e.portName == port && "_"+e.proto == labels[1] {
				entries = append(entries, e)
			}
		}
	}
	if len(entries) == 0 {
		return z.nxDomain()
	}
	if qtype != dns.TypeSRV && qtype != dns.TypeANY {
		return z.noData()
	}
	r := z.answer(srvRRs(owner, entries, z.ttl)...)
	r.extra = z.srvExtra(svc, eps, entries)
	return r
}

// serviceName answers <svc>.<ns>.svc.<zone>.
func (z *zone) serviceName(owner string, svc *corev1.Service, eps []endpoint, qtype uint16, depth int) result {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return z.externalName(owner, svc, qtype, depth)
	}
	switch qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
		if !isHeadless(svc) {
			return z.answer(addressRRs(owner, clusterIPs(svc), qtype, z.ttl)...)
		}
		var rrs []dns.RR
		seen := make(map[string]bool, len(eps))
		for _, e := range eps {
			if k := e.ip.String(); familyMatches(e.ip, qtype) && !seen[k] {
				seen[k] = true
				rrs = append(rrs, addressRR(owner, e.ip, z.ttl))
			}
		}
		return z.answer(rrs...)
	case dns.TypeSRV:
		// Without a port in the name, every port of the Service (CoreDNS
		// answers these too; unnamed ports included, as they have numbers).
		entries := z.srvEntries(svc, eps)
		r := z.answer(srvRRs(owner, entries, z.ttl)...)
		r.extra = z.srvExtra(svc, eps, entries)
		return r
	}
	return z.noData()
}

// externalName answers an ExternalName Service's name with a CNAME and
// completes it: from the zone when the target is in it, else by asking the
// caller to chase the target upstream.
func (z *zone) externalName(owner string, svc *corev1.Service, qtype uint16, depth int) result {
	target := dns.CanonicalName(svc.Spec.ExternalName)
	cname := cnameRR(owner, target, z.ttl)
	if qtype == dns.TypeCNAME {
		return z.answer(cname)
	}
	if !z.contains(target) {
		return result{rcode: dns.RcodeSuccess, answer: []dns.RR{cname}, chase: target}
	}
	if depth >= maxChase {
		return result{rcode: dns.RcodeServerFailure}
	}
	r := z.lookupName(target, target, qtype, depth+1)
	if r.rcode == dns.RcodeServerFailure {
		return r // a loop: no partial chain
	}
	r.answer = append([]dns.RR{cname}, r.answer...)
	return r
}

// endpointName answers <hostname>.<svc>.<ns>.svc.<zone> of a headless
// Service: one address record per address of the endpoints so named.
func (z *zone) endpointName(owner, host string, eps []endpoint, qtype uint16) result {
	var ips []net.IP
	for _, e := range eps {
		if e.host == host {
			ips = append(ips, e.ip)
		}
	}
	if len(ips) == 0 {
		return z.nxDomain()
	}
	return z.answer(addressRRs(owner, ips, qtype, z.ttl)...)
}

// srvEntries are the SRV data of svc: its ports targeting its own name, or
// for a headless Service each ready endpoint's ports (the endpoint's, i.e.
// the target port: nothing translates ports for headless Services)
// targeting the endpoint's name.
func (z *zone) srvEntries(svc *corev1.Service, eps []endpoint) []srvEntry {
	svcName := svc.Name + "." + svc.Namespace + ".svc." + z.origin
	var out []srvEntry
	if !isHeadless(svc) {
		target := svcName
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			target = dns.CanonicalName(svc.Spec.ExternalName)
		}
		for _, p := range svc.Spec.Ports {
			out = append(out, srvEntry{portName: strings.ToLower(p.Name), proto: protoLabel(p.Protocol), port: uint16(p.Port), target: target})
		}
		return out
	}
	// An endpoint with addresses of both families is one SRV target.
	seen := map[srvEntry]bool{}
	for _, e := range eps {
		for _, p := range e.ports {
			if p.Port == nil {
				continue
			}
			name := ""
			if p.Name != nil {
				name = strings.ToLower(*p.Name)
			}
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			entry := srvEntry{portName: name, proto: protoLabel(proto), port: uint16(*p.Port), target: e.host + "." + svcName}
			if !seen[entry] {
				seen[entry] = true
				out = append(out, entry)
			}
		}
	}
	return out
}

// srvExtra is the additional section of an SRV answer: the targets'
// addresses, each once.
func (z *zone) srvExtra(svc *corev1.Service, eps []endpoint, entries []srvEntry) []dns.RR {
	if len(entries) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if !isHeadless(svc) {
		return addressRRs(entries[0].target, clusterIPs(svc), dns.TypeANY, z.ttl)
	}
	targets := make(map[string]bool, len(entries))
	for _, e := range entries {
		targets[e.target] = true
	}
	suffix := "." + svc.Name + "." + svc.Namespace + ".svc." + z.origin
	var out []dns.RR
	for _, e := range eps {
		if name := e.host + suffix; targets[name] {
			out = append(out, addressRR(name, e.ip, z.ttl))
		}
	}
	return out
}

func protoLabel(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}
