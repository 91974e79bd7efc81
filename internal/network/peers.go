package network

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// peerRoute is one wanted host-gw route: dst (a peer node's pod CIDR)
// via gw (that node's InternalIP of the same family).
type peerRoute struct {
	node string
	dst  netip.Prefix
	gw   netip.Addr
}

// peerRoutes is the routes this node wants: for every other node, one per
// pod CIDR that has an InternalIP of its family. Nodes without either are
// left out; so is a malformed CIDR or address. The result is sorted by
// node, then destination, and the nodes are not modified.
func peerRoutes(self string, nodes []*corev1.Node) []peerRoute {
	var out []peerRoute
	for _, n := range nodes {
		if n == nil || n.Name == self {
			continue
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, c := range cidrs {
			dst, err := netip.ParsePrefix(c)
			if err != nil {
				continue
			}
			dst = dst.Masked()
			gw, ok := internalIP(n, dst.Addr().Is4())
			if !ok {
				continue
			}
			out = append(out, peerRoute{node: n.Name, dst: dst, gw: gw})
		}
	}
	slices.SortFunc(out, func(a, b peerRoute) int {
		if c := strings.Compare(a.node, b.node); c != 0 {
			return c
		}
		return a.dst.Addr().Compare(b.dst.Addr())
	})
	return out
}

// internalIP is the node's first InternalIP of the family.
func internalIP(n *corev1.Node, v4 bool) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() == v4 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}
