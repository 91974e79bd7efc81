package proxy

// TableName is the nftables table (family ip) the proxy owns. Nothing
// else writes to it, so a full resync may replace it whole.
const TableName = "skiff-proxy"

// The fixed chains, sets and maps of the table. Per-service chains are
// named by servicePortChains.
const (
	chainFilterInput         = "filter-input"
	chainFilterForward       = "filter-forward"
	chainFilterOutput        = "filter-output"
	chainFilterOutputPostNAT = "filter-output-post-dnat"
	chainNATPrerouting       = "nat-prerouting"
	chainNATOutput           = "nat-output"
	chainNATPostrouting      = "nat-postrouting"

	chainServices          = "services"
	chainServiceEPCheck    = "service-endpoints-check"
	chainNodePortEPCheck   = "nodeport-endpoints-check"
	chainClusterIPsCheck   = "cluster-ips-check"
	chainReject            = "reject-chain"
	chainMarkForMasquerade = "mark-for-masquerade"
	chainMasquerading      = "masquerading"

	setClusterIPs  = "cluster-ips"
	setNodePortIPs = "nodeport-ips"

	mapServiceIPs         = "service-ips"
	mapServiceNodePorts   = "service-nodeports"
	mapNoEndpointServices = "no-endpoint-services"
	mapNoEndpointNodePort = "no-endpoint-nodeports"

	// masqueradeBit marks packets to masquerade in postrouting; the same
	// bit kube-proxy uses, so node tooling that knows it reads it right.
	masqueradeBit = "0x4000"

	typeIPProtoPort = "ipv4_addr . inet_proto . inet_service : verdict"
	typeProtoPort   = "inet_proto . inet_service : verdict"

	verdictReject = "goto " + chainReject
	verdictDrop   = "drop"
)

// addFixed adds the chains, sets and maps every table has, whatever the
// Services are.
//
// Packet path: the nat chains at dstnat look (daddr . proto . dport) up
// in one verdict map, so the cost per packet does not grow with the
// number of Services; the filter chains before DNAT reject or drop new
// connections to service ports without usable endpoints (nat chains
// cannot reject); after DNAT, traffic still addressed to a cluster IP hit
// a port the Service does not have and is rejected too.
func addFixed(rs *Ruleset) {
	// Filter hooks run at dstnat-10 (just before DNAT) except the output
	// cluster-IP check, which must see the post-DNAT address.
	rs.baseChain(chainFilterInput, "filter", "input", "dstnat-10",
		"ct state new jump "+chainNodePortEPCheck,
		"ct state new jump "+chainServiceEPCheck)
	rs.baseChain(chainFilterForward, "filter", "forward", "dstnat-10",
		"ct state new jump "+chainServiceEPCheck,
		"ct state new jump "+chainClusterIPsCheck)
	rs.baseChain(chainFilterOutput, "filter", "output", "dstnat-10",
		"ct state new jump "+chainServiceEPCheck)
	rs.baseChain(chainFilterOutputPostNAT, "filter", "output", "dstnat+10",
		"ct state new jump "+chainClusterIPsCheck)
	rs.baseChain(chainNATPrerouting, "nat", "prerouting", "dstnat", "jump "+chainServices)
	rs.baseChain(chainNATOutput, "nat", "output", "dstnat", "jump "+chainServices)
	rs.baseChain(chainNATPostrouting, "nat", "postrouting", "srcnat", "jump "+chainMasquerading)

	rs.chain(chainServices,
		"ip daddr . meta l4proto . th dport vmap @"+mapServiceIPs,
		"ip daddr @"+setNodePortIPs+" meta l4proto . th dport vmap @"+mapServiceNodePorts)
	rs.chain(chainServiceEPCheck,
		"ip daddr . meta l4proto . th dport vmap @"+mapNoEndpointServices)
	rs.chain(chainNodePortEPCheck,
		"ip daddr @"+setNodePortIPs+" meta l4proto . th dport vmap @"+mapNoEndpointNodePort)
	rs.chain(chainClusterIPsCheck,
		"ip daddr @"+setClusterIPs+" goto "+chainReject)
	// A TCP client gets a reset, anything else ICMP port-unreachable:
	// either way connect() fails at once instead of timing out.
	rs.chain(chainReject,
		"meta l4proto tcp reject with tcp reset",
		"reject")
	rs.chain(chainMarkForMasquerade, "meta mark set meta mark | "+masqueradeBit)
	rs.chain(chainMasquerading,
		"meta mark & "+masqueradeBit+" == 0 return",
		"meta mark set meta mark ^ "+masqueradeBit,
		"masquerade fully-random")

	rs.set(setClusterIPs, "ipv4_addr")
	rs.set(setNodePortIPs, "ipv4_addr")
	rs.vmap(mapServiceIPs, typeIPProtoPort)
	rs.vmap(mapServiceNodePorts, typeProtoPort)
	rs.vmap(mapNoEndpointServices, typeIPProtoPort)
	rs.vmap(mapNoEndpointNodePort, typeProtoPort)
}
