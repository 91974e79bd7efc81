package servicelb

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// LabelExcludeFromLB keeps a node out of every load balancer, as upstream's
// service controller does.
const LabelExcludeFromLB = "node.kubernetes.io/exclude-from-external-load-balancers"

// nodeAddresses is, in node IPs mode, the addresses a LoadBalancer Service
// is reached at: for each Ready, schedulable node (every node, when none
// is), its ExternalIP of each wanted family, else its InternalIP. Nodes
// without an address of a wanted family do not count. The
// result is sorted and without duplicates; nodes are not modified.
func nodeAddresses(nodes []*corev1.Node, families []corev1.IPFamily) []netip.Addr {
	fams := wantFamilies(families)
	var eligible []*corev1.Node
	for _, n := range nodes {
		if _, excluded := n.Labels[LabelExcludeFromLB]; excluded {
			continue
		}
		for _, v4 := range fams {
			if _, ok := nodeAddress(n, v4); ok {
				eligible = append(eligible, n)
				break
			}
		}
	}
	var ready []*corev1.Node
	for _, n := range eligible {
		if controllerutil.IsNodeReady(n) && !n.Spec.Unschedulable {
			ready = append(ready, n)
		}
	}
	if len(ready) == 0 {
		ready = eligible
	}
	var out []netip.Addr
	for _, n := range ready {
		for _, v4 := range fams {
			if ip, ok := nodeAddress(n, v4); ok {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// wantFamilies is which families (true: IPv4) a Service's ingress has;
// both when the Service does not say.
func wantFamilies(families []corev1.IPFamily) []bool {
	if len(families) == 0 {
		return []bool{true, false}
	}
	var out []bool
	for _, f := range families {
		out = append(out, f == corev1.IPv4Protocol)
	}
	return out
}

// nodeAddress is the node's first ExternalIP of the family, else its
// first InternalIP.
func nodeAddress(n *corev1.Node, v4 bool) (netip.Addr, bool) {
	for _, t := range []corev1.NodeAddressType{corev1.NodeExternalIP, corev1.NodeInternalIP} {
		for _, a := range n.Status.Addresses {
			if a.Type != t {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Unmap().Is4() == v4 {
				return ip.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// nodeKey is what of a node matters to node IPs mode; a node update that
// leaves it alone changes no Service.
func nodeKey(n *corev1.Node) string {
	s := ""
	if controllerutil.IsNodeReady(n) {
		s += "R"
	}
	if n.Spec.Unschedulable {
		s += "U"
	}
	if _, ok := n.Labels[LabelExcludeFromLB]; ok {
		s += "X"
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeExternalIP || a.Type == corev1.NodeInternalIP {
			s += "|" + string(a.Type) + "=" + a.Address
		}
	}
	return s
}
