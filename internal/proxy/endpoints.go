package proxy

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// endpoint is one backend of one service port, as the EndpointSlices
// describe it.
type endpoint struct {
	addr        netip.AddrPort
	nodeName    string
	ready       bool
	serving     bool
	terminating bool
	zoneHints   []string
	nodeHints   []string
}

// fallback reports whether the endpoint may be used only when no ready
// one exists: it is shutting down but still serving (KEP-1669).
func (e endpoint) fallback() bool { return !e.ready && e.serving && e.terminating }

// slicesByService groups IPv4 EndpointSlices by the "namespace/name" of
// the Service they belong to. IPv6 and FQDN slices are ignored.
func slicesByService(all []*discoveryv1.EndpointSlice) map[string][]*discoveryv1.EndpointSlice {
	out := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range all {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := s.Namespace + "/" + svc
		out[key] = append(out[key], s)
	}
	return out
}

// portEndpoints returns the endpoints of the service port named portName
// with the given protocol, sorted by address. Each slice carries the
// target port already resolved (named target ports differ per pod), so
// the port number comes from the slice, not the Service. An address that
// appears in several slices (during a slice rewrite) is kept once, in its
// most usable state.
func portEndpoints(slices_ []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol) []endpoint {
	byAddr := map[netip.AddrPort]endpoint{}
	for _, s := range slices_ {
		port, ok := slicePort(s, portName, proto)
		if !ok {
			continue
		}
		for i := range s.Endpoints {
			ep := &s.Endpoints[i]
			if len(ep.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil || !ip.Is4() {
				continue
			}
			e := endpoint{addr: netip.AddrPortFrom(ip, port)}
			// Unset conditions mean ready, serving=ready, not terminating
			// (the API's documented defaults).
			e.ready = ep.Conditions.Ready == nil || *ep.Conditions.Ready
			e.serving = e.ready
			if ep.Conditions.Serving != nil {
				e.serving = *ep.Conditions.Serving
			}
			e.terminating = ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			if ep.NodeName != nil {
				e.nodeName = *ep.NodeName
			}
			if ep.Hints != nil {
				for _, z := range ep.Hints.ForZones {
					e.zoneHints = append(e.zoneHints, z.Name)
				}
				for _, n := range ep.Hints.ForNodes {
					e.nodeHints = append(e.nodeHints, n.Name)
				}
			}
			if old, dup := byAddr[e.addr]; dup && usability(old) >= usability(e) {
				continue
			}
			byAddr[e.addr] = e
		}
	}
	out := make([]endpoint, 0, len(byAddr))
	for _, e := range byAddr {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b endpoint) int { return cmp.Compare(a.addr.String(), b.addr.String()) })
	return out
}

func usability(e endpoint) int {
	switch {
	case e.ready:
		return 2
	case e.fallback():
		return 1
	}
	return 0
}

func slicePort(s *discoveryv1.EndpointSlice, name string, proto corev1.Protocol) (uint16, bool) {
	for _, p := range s.Ports {
		pname, pproto := "", corev1.ProtocolTCP
		if p.Name != nil {
			pname = *p.Name
		}
		if p.Protocol != nil {
			pproto = *p.Protocol
		}
		if pname == name && pproto == proto && p.Port != nil && *p.Port > 0 && *p.Port < 65536 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// categorized are the endpoints one service port sends traffic to.
type categorized struct {
	// cluster serves traffic under a Cluster traffic policy: the ready
	// endpoints (narrowed by topology hints), or, when none is ready, the
	// serving-but-terminating ones.
	cluster []endpoint
	// local serves traffic under a Local traffic policy: the same choice
	// among this node's endpoints, topology aside.
	local []endpoint
	// any is true when some endpoint anywhere could serve. A service
	// without any rejects connections; one whose endpoints are all on
	// other nodes drops them under a Local policy.
	any bool
}

func categorize(eps []endpoint, node *Node, needCluster, needLocal bool) categorized {
	var c categorized
	var ready, fallback, localReady, localFallback []endpoint
	for _, e := range eps {
		local := e.nodeName != "" && e.nodeName == node.Name
		switch {
		case e.ready:
			ready = append(ready, e)
			if local {
				localReady = append(localReady, e)
			}
		case e.fallback():
			fallback = append(fallback, e)
			if local {
				localFallback = append(localFallback, e)
			}
		}
	}
	c.any = len(ready) > 0 || len(fallback) > 0
	if needCluster {
		c.cluster = ready
		if len(ready) == 0 {
			c.cluster = fallback
		} else {
			c.cluster = topologyFilter(ready, node)
		}
	}
	if needLocal {
		c.local = localReady
		if len(localReady) == 0 {
			c.local = localFallback
		}
	}
	return c
}

// topologyFilter narrows ready endpoints to those hinted for this node
// (PreferSameNode) or else this node's zone (topology-aware routing). The
// EndpointSlice controller sets hints only when the Service asks for them,
// so hints are used when every ready endpoint has them and at least one
// names this node (zone); otherwise all ready endpoints are used.
func topologyFilter(ready []endpoint, node *Node) []endpoint {
	if out := hinted(ready, node.Name, func(e endpoint) []string { return e.nodeHints }); out != nil {
		return out
	}
	if zone := node.Labels[corev1.LabelTopologyZone]; zone != "" {
		if out := hinted(ready, zone, func(e endpoint) []string { return e.zoneHints }); out != nil {
			return out
		}
	}
	return ready
}

func hinted(ready []endpoint, want string, hints func(endpoint) []string) []endpoint {
	var out []endpoint
	for _, e := range ready {
		h := hints(e)
		if len(h) == 0 {
			return nil
		}
		if slices.Contains(h, want) {
			out = append(out, e)
		}
	}
	return out
}
