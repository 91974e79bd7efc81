package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// servicePort is one port of one proxied Service.
type servicePort struct {
	svc         *corev1.Service
	port        corev1.ServicePort
	proto       string // tcp, udp or sctp: nft's name for it
	clusterIP   netip.Addr
	externalIPs []netip.Addr
	nodePortIPs []net.IP
}

// chain names of a service port. They carry namespace/name/proto/port so
// `nft list table ip skiff-proxy` reads like the Services it came from;
// at most ~180 characters, under nftables' 256.
func (p *servicePort) base() string {
	return fmt.Sprintf("%s/%s/%s/%s", p.svc.Namespace, p.svc.Name, p.proto, portName(p.port))
}

func (p *servicePort) endpointName(prefix string, e endpoint) string {
	return fmt.Sprintf("%s-%s__%s/%d", prefix, p.base(), e.addr.Addr(), e.addr.Port())
}

func (p *servicePort) affinityTimeout() time.Duration {
	if p.svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0
	}
	secs := int32(corev1.DefaultClientIPServiceAffinitySeconds)
	if c := p.svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
		secs = *c.ClientIP.TimeoutSeconds
	}
	return time.Duration(secs) * time.Second
}

func (p *servicePort) nodePort() int32 {
	if t := p.svc.Spec.Type; t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer {
		return p.port.NodePort
	}
	return 0
}

// addTo writes the service port's chains, map elements and conntrack
// facts into rs, and returns the endpoints it chose.
//
// Traffic policies (upstream's semantics): internal traffic (to the
// cluster IP) goes to all endpoints unless internalTrafficPolicy is
// Local; external traffic (external IPs, load-balancer IPs, node ports)
// goes to all endpoints and is masqueraded, unless
// externalTrafficPolicy is Local, in which case it goes only to this
// node's endpoints and keeps its source address. Pods and the node itself
// reaching an external address of a Local service are still sent
// cluster-wide, as upstream does, so they never see a blackhole.
func (p *servicePort) addTo(rs *Ruleset, in *Input, eps []endpoint) categorized {
	nodePort := p.nodePort()
	external := len(p.externalIPs) > 0 || nodePort > 0
	internalLocal := p.svc.Spec.InternalTrafficPolicy != nil && *p.svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	externalLocal := external && p.svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	usesCluster := !internalLocal || (external && !externalLocal)
	usesLocal := internalLocal || externalLocal
	c := categorize(eps, &in.Node, usesCluster, usesLocal)

	base := p.base()
	var clusterChain, localChain, externalChain string
	if usesCluster && len(c.cluster) > 0 {
		clusterChain = "service-" + base
	}
	if usesLocal && len(c.local) > 0 {
		localChain = "local-" + base
	}
	internalChain := clusterChain
	if internalLocal {
		internalChain = localChain
	}
	hasExternal := clusterChain != ""
	if externalLocal {
		hasExternal = localChain != ""
	}
	if external && hasExternal {
		externalChain = "external-" + base
	}

	timeout := p.affinityTimeout()
	used := map[netip.AddrPort]bool{}
	for _, list := range [][]endpoint{c.cluster, c.local} {
		for _, e := range list {
			if !used[e.addr] {
				used[e.addr] = true
				p.addEndpointChain(rs, e, timeout)
			}
		}
	}
	if clusterChain != "" {
		ch := rs.chain(clusterChain)
		match := fmt.Sprintf("ip daddr %s %s dport %d", p.clusterIP, p.proto, p.port.Port)
		switch {
		case in.Options.MasqueradeAll:
			ch.Rules = append(ch.Rules, match+" jump "+chainMarkForMasquerade)
		case in.Options.ClusterCIDR != nil:
			ch.Rules = append(ch.Rules, fmt.Sprintf("%s ip saddr != %s jump %s", match, in.Options.ClusterCIDR, chainMarkForMasquerade))
		}
		ch.Rules = append(ch.Rules, p.spreadRules(c.cluster, timeout)...)
	}
	if localChain != "" {
		rs.chain(localChain, p.spreadRules(c.local, timeout)...)
	}
	if externalChain != "" {
		ch := rs.chain(externalChain)
		if !externalLocal {
			ch.Rules = append(ch.Rules, "jump "+chainMarkForMasquerade, "goto "+clusterChain)
		} else {
			if clusterChain != "" {
				if in.Options.ClusterCIDR != nil {
					ch.Rules = append(ch.Rules, fmt.Sprintf("ip saddr %s goto %s", in.Options.ClusterCIDR, clusterChain))
				}
				ch.Rules = append(ch.Rules,
					"fib saddr type local jump "+chainMarkForMasquerade,
					"fib saddr type local goto "+clusterChain)
			}
			ch.Rules = append(ch.Rules, "goto "+localChain)
		}
	}

	// A service port whose traffic has nowhere to go is rejected if it
	// has no endpoints at all, and dropped if it has some, just none this
	// node may use (a Local policy).
	noEndpoints := verdictReject
	if c.any {
		noEndpoints = verdictDrop
	}
	dport := fmt.Sprintf("%s . %d", p.proto, p.port.Port)
	route := func(ip netip.Addr, chain string) {
		key := ip.String() + " . " + dport
		if chain != "" {
			rs.Maps[mapServiceIPs].Elements[key] = "goto " + chain
		} else {
			rs.Maps[mapNoEndpointServices].Elements[key] = noEndpoints
		}
	}
	route(p.clusterIP, internalChain)
	for _, ip := range p.externalIPs {
		route(ip, externalChain)
	}
	if nodePort > 0 {
		key := fmt.Sprintf("%s . %d", p.proto, nodePort)
		if externalChain != "" {
			rs.Maps[mapServiceNodePorts].Elements[key] = "goto " + externalChain
		} else {
			rs.Maps[mapNoEndpointNodePort].Elements[key] = noEndpoints
		}
	}

	if p.proto == "udp" {
		internalEPs := c.cluster
		if internalLocal {
			internalEPs = c.local
		}
		externalEPs := c.cluster
		if externalLocal {
			externalEPs = append(c.local[:len(c.local):len(c.local)], c.cluster...)
		}
		rs.UDP[netip.AddrPortFrom(p.clusterIP, uint16(p.port.Port))] = addrs(internalEPs)
		for _, ip := range p.externalIPs {
			rs.UDP[netip.AddrPortFrom(ip, uint16(p.port.Port))] = addrs(externalEPs)
		}
		if nodePort > 0 {
			for _, ip := range p.nodePortIPs {
				a, _ := netip.AddrFromSlice(ip.To4())
				rs.UDP[netip.AddrPortFrom(a, uint16(nodePort))] = addrs(externalEPs)
			}
		}
	}
	return c
}

// addEndpointChain adds the chain that DNATs to one endpoint. Traffic a
// pod sends to its own Service and that lands back on itself
// (hairpin) is masqueraded, or the pod would see a reply from itself.
func (p *servicePort) addEndpointChain(rs *Ruleset, e endpoint, affinity time.Duration) {
	ch := rs.chain(p.endpointName("endpoint", e),
		fmt.Sprintf("ip saddr %s jump %s", e.addr.Addr(), chainMarkForMasquerade))
	if affinity > 0 {
		set := rs.set(p.endpointName("affinity", e), "ipv4_addr")
		set.Dynamic, set.Timeout = true, affinity
		ch.Rules = append(ch.Rules, fmt.Sprintf("update @%s { ip saddr }", set.Name))
	}
	ch.Rules = append(ch.Rules, fmt.Sprintf("meta l4proto %s dnat to %s", p.proto, e.addr))
}

// spreadRules send a new connection to one of eps: first to the endpoint
// a client IP is stuck to (session affinity: each endpoint remembers its
// clients in a timeout set), else uniformly at random.
//
// The random choice is a cascade, rule i taking the connection with
// probability 1/(N-i) on a fresh draw, which makes every endpoint equally
// likely. It is not kube-proxy's one `numgen random mod N vmap { ... }`
// rule: each such rule is an anonymous set, and the kernel's loop check
// walks every set in the table for every goto it validates, so loading
// 4,000 Services × 10 endpoints that way cost 70 s of kernel time against
// under 2 s for the cascade. Only a connection's first packet walks the
// cascade (conntrack NATs the rest), and its length is the Service's
// endpoint count, not the number of Services.
func (p *servicePort) spreadRules(eps []endpoint, affinity time.Duration) []string {
	var rules []string
	if affinity > 0 {
		for _, e := range eps {
			rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", p.endpointName("affinity", e), p.endpointName("endpoint", e)))
		}
	}
	last := len(eps) - 1
	for i, e := range eps[:last] {
		rules = append(rules, fmt.Sprintf("numgen random mod %d == 0 goto %s", len(eps)-i, p.endpointName("endpoint", e)))
	}
	return append(rules, "goto "+p.endpointName("endpoint", eps[last]))
}

func addrs(eps []endpoint) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(eps))
	for _, e := range eps {
		if !slices.Contains(out, e.addr) {
			out = append(out, e.addr)
		}
	}
	return out
}
