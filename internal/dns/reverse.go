package dns

import (
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// lookupPTR answers a reverse name of a ClusterIP (the Service's name) or
// of a ready endpoint of a headless Service (<hostname>.<svc>...). Other
// addresses are not the cluster's to name: ok is false and the question
// goes upstream, as with CoreDNS's "fallthrough in-addr.arpa ip6.arpa".
func (z *zone) lookupPTR(owner, name string) (result, bool) {
	ip := parseReverse(name)
	if ip == nil {
		return result{}, false
	}
	var targets []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	for _, svc := range z.cat.servicesByIP(ip) {
		add(svc.Name + "." + svc.Namespace + ".svc." + z.origin)
	}
	for _, s := range z.cat.slicesByAddress(ip) {
		svc := z.cat.service(s.Namespace, s.Labels[discoveryv1.LabelServiceName])
		if svc == nil || !isHeadless(svc) {
			continue
		}
		for _, e := range z.cat.readyEndpoints(svc) {
			if e.ip.Equal(ip) {
				add(e.host + "." + svc.Name + "." + svc.Namespace + ".svc." + z.origin)
			}
		}
	}
	if len(targets) == 0 {
		return result{}, false
	}
	rrs := make([]dns.RR, 0, len(targets))
	for _, t := range targets {
		rrs = append(rrs, ptrRR(owner, t, z.ttl))
	}
	return z.answer(rrs...), true
}

// parseReverse is the address of a full reverse name (d.c.b.a.in-addr.arpa.
// or 32 nibbles under ip6.arpa.), or nil for anything else, including the
// partial names above them.
func parseReverse(name string) net.IP {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return nil
		}
		ip := make(net.IP, 4)
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 10, 8)
			if err != nil || (len(l) > 1 && l[0] == '0') {
				return nil
			}
			ip[3-i] = byte(v)
		}
		return ip.To16()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return nil
		}
		ip := make(net.IP, 16)
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 16, 4)
			if err != nil || len(l) != 1 {
				return nil
			}
			// labels[0] is the lowest nibble of the last byte.
			b := 15 - i/2
			if i%2 == 0 {
				ip[b] |= byte(v)
			} else {
				ip[b] |= byte(v) << 4
			}
		}
		return ip
	}
	return nil
}
