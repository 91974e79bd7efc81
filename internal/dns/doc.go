// Package dns is skiff's cluster DNS server: it answers the records of the
// Kubernetes DNS-Based Service Discovery specification (schema 1.0.1) for
// the cluster domain from client-go informers on Services and
// EndpointSlices, and forwards every other name to the host's upstream
// resolvers through a response cache.
//
// The package is split the way the house style asks for:
//   - The zone (zone.go and its record files) is pure: a question and the
//     informers' indexers in, an answer out. Golden tests under testdata/
//     pin it. Pod names (a-b-c-d.<ns>.pod.<zone>) are answered by parsing
//     the name, as CoreDNS's "pods insecure" mode does, so no pod informer
//     is needed.
//   - The forwarder (forward.go, cache.go, upstreams.go) talks to upstream
//     resolvers over UDP, retries over TCP when an answer is truncated, and
//     caches positive and negative answers by their TTLs.
//   - Server (server.go, handler.go) is the runtime: informers, UDP and TCP
//     listeners, EDNS0 sizes and truncation, metrics.
//
// Names inside the cluster domain are always answered here, authoritatively:
// an unknown name is NXDOMAIN, a known name without the asked type is an
// empty NOERROR, both with the zone's SOA. Search-list expansions that went
// wrong (web.default.svc.cluster.local.svc.cluster.local) therefore never
// reach upstream. Reverse names (in-addr.arpa, ip6.arpa) are answered for
// ClusterIPs and headless endpoints and forwarded otherwise.
//
// It does not configure pods' resolv.conf (the kubelet does), bind the
// cluster DNS Service IP to an interface, or create the kube-dns Service.
package dns
