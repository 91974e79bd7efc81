package proxy

import (
	"net"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Input is everything a Ruleset is a function of. Compute reads it and
// never modifies it (the objects may come straight from informer caches).
type Input struct {
	Node           Node
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Options        Options
}

// Node is the node the rules are for.
type Node struct {
	Name string
	// IPs are the node's addresses. They serve NodePorts unless
	// Options.NodePortAddresses says otherwise.
	IPs []net.IP
	// Labels carry the node's topology (topology.kubernetes.io/zone),
	// used to honour the zone hints on EndpointSlices.
	Labels map[string]string
}

// Options are the proxy's knobs, kube-proxy's names in brackets.
type Options struct {
	// ClusterCIDR is the pod network [--cluster-cidr]. Traffic to a
	// cluster IP from outside it is masqueraded, so replies come back
	// through this node. Nil turns that off, as upstream does.
	ClusterCIDR *net.IPNet
	// MasqueradeAll masquerades all traffic to cluster IPs
	// [--masquerade-all].
	MasqueradeAll bool
	// NodePortAddresses are the addresses NodePorts answer on
	// [--nodeport-addresses]; empty means Node.IPs. Loopback addresses
	// are dropped: localhost NodePorts are not supported.
	NodePortAddresses []net.IP
	// NoSCTP is set when the kernel cannot track SCTP; SCTP service ports
	// are then left out instead of failing the whole table.
	NoSCTP bool
}

// nodePortIPs returns the IPv4 addresses NodePorts are served on.
func (in *Input) nodePortIPs() []net.IP {
	src := in.Options.NodePortAddresses
	if len(src) == 0 {
		src = in.Node.IPs
	}
	var out []net.IP
	seen := map[string]bool{}
	for _, ip := range src {
		v4 := ip.To4()
		if v4 == nil || v4.IsLoopback() || v4.IsUnspecified() || seen[v4.String()] {
			continue
		}
		seen[v4.String()] = true
		out = append(out, v4)
	}
	return out
}
