package proxy

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Compute returns the table the node should hold for in. It is pure: the
// same Input always gives the same Ruleset, and in is not modified.
// Services that cannot be proxied (headless, ExternalName, IPv6-only,
// unparsable cluster IP, or owned by another proxy) are skipped.
func Compute(in Input) Ruleset {
	rs := newRuleset()
	addFixed(&rs)
	nodePortIPs := in.nodePortIPs()
	for _, ip := range nodePortIPs {
		rs.Sets[setNodePortIPs].Elements[ip.String()] = true
	}
	bySvc := slicesByService(in.EndpointSlices)
	svcs := slices.Clone(in.Services)
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, svc := range svcs {
		clusterIP, ok := proxiedClusterIP(svc)
		if !ok {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		rs.Sets[setClusterIPs].Elements[clusterIP.String()] = true
		localReady := map[netip.Addr]bool{}
		for _, sp := range svc.Spec.Ports {
			proto := protocol(sp.Protocol)
			if proto == "sctp" && in.Options.NoSCTP {
				continue
			}
			p := servicePort{svc: svc, port: sp, proto: proto, clusterIP: clusterIP,
				externalIPs: externalIPs(svc), nodePortIPs: nodePortIPs}
			eps := portEndpoints(bySvc[key], sp.Name, protocolOrTCP(sp.Protocol))
			for _, e := range p.addTo(&rs, &in, eps).local {
				if e.ready {
					localReady[e.addr.Addr()] = true
				}
			}
		}
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal &&
			svc.Spec.HealthCheckNodePort > 0 {
			rs.HealthChecks[svc.Spec.HealthCheckNodePort] = HealthCheck{Namespace: svc.Namespace, Name: svc.Name, LocalEndpoints: len(localReady)}
		}
	}
	return rs
}

// proxiedClusterIP returns the IPv4 cluster IP of a Service this proxy
// serves.
func proxiedClusterIP(svc *corev1.Service) (netip.Addr, bool) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Labels[LabelServiceProxyName] != "" {
		return netip.Addr{}, false
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() && !ip.IsUnspecified() {
			return ip, true
		}
	}
	return netip.Addr{}, false // headless ("None"), unset or IPv6-only
}

// LabelServiceProxyName marks a Service another proxy implements; like
// kube-proxy, skiff leaves such Services alone.
const LabelServiceProxyName = "service.kubernetes.io/service-proxy-name"

// externalIPs are the addresses external traffic reaches the Service on:
// spec.externalIPs and, for load balancers, the ingress IPs whose mode is
// VIP (a Proxy-mode load balancer delivers to the node, not the IP).
func externalIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	for _, s := range svc.Spec.ExternalIPs {
		add(s)
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" && (ing.IPMode == nil || *ing.IPMode == corev1.LoadBalancerIPModeVIP) {
				add(ing.IP)
			}
		}
	}
	return out
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func protocol(p corev1.Protocol) string { return strings.ToLower(string(protocolOrTCP(p))) }

func portName(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return strconv.Itoa(int(sp.Port))
}
