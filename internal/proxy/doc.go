// Package proxy is skiff's Service proxy: it turns Services and
// EndpointSlices into one nftables table (`ip skiff-proxy`) on each node,
// with the semantics of upstream kube-proxy's nftables mode (KEP-3866).
//
// The package is split the way the house style asks for:
//   - Compute (compute.go and friends) is pure: node + Services +
//     EndpointSlices + options in, an abstract Ruleset out. Golden tests
//     under testdata/ pin it.
//   - The backend (backend.go, diff.go) renders a Ruleset with knftables:
//     a full resync replaces the table in one transaction; later syncs
//     apply only the difference from the previous Ruleset, also in one
//     transaction.
//   - Proxy (proxy.go) is the runtime: informers, a rate-limited sync
//     loop, health-check node ports, UDP conntrack cleanup and metrics.
//
// It owns only its table. It does not enable IP forwarding or masquerade
// pod egress (internal/network does), and it does not serve NodePorts on
// 127.0.0.1: upstream's nftables mode does not either.
//
// Only IPv4 is proxied; IPv6 cluster IPs and EndpointSlices are ignored.
package proxy
