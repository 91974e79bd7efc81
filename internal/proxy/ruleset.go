package proxy

import (
	"maps"
	"net/netip"
	"slices"
	"time"
)

// Ruleset is the abstract content of the proxy's nftables table: what the
// backend makes the kernel hold. It is plain data so that two Rulesets
// can be compared and the difference applied.
type Ruleset struct {
	Chains map[string]*Chain
	Sets   map[string]*Set
	Maps   map[string]*Map

	// UDP maps each UDP service destination (cluster IP, external IP,
	// load-balancer IP, node address : node port) to the endpoints its
	// traffic may be sent to. It is not rendered: conntrack cleanup uses
	// it to find flows pinned to endpoints that are gone.
	UDP map[netip.AddrPort][]netip.AddrPort

	// HealthChecks are the health-check node ports of
	// externalTrafficPolicy: Local load balancers on this node.
	HealthChecks map[int32]HealthCheck
}

// Chain is one nftables chain. Rules are in nft syntax, in order.
type Chain struct {
	Name string
	// Hook is set for base chains only.
	Hook  *Hook
	Rules []string
}

// Hook attaches a base chain to a netfilter hook.
type Hook struct {
	Type     string // filter or nat
	Hook     string // prerouting, input, forward, output, postrouting
	Priority string // e.g. "dstnat", "dstnat-10"
}

// Set is an nftables set. A Dynamic set is filled by the packet path
// (session affinity); its elements are never written by the backend.
type Set struct {
	Name     string
	Type     string
	Dynamic  bool
	Timeout  time.Duration
	Elements map[string]bool // keys, components joined with " . "
}

// Map is an nftables map, here always a verdict map.
type Map struct {
	Name     string
	Type     string
	Elements map[string]string // key → value, key components joined with " . "
}

// HealthCheck is what one health-check node port reports.
type HealthCheck struct {
	Namespace, Name string
	// LocalEndpoints counts the service's ready endpoints on this node;
	// zero makes the port answer 503 so load balancers skip the node.
	LocalEndpoints int
}

func newRuleset() Ruleset {
	return Ruleset{
		Chains:       map[string]*Chain{},
		Sets:         map[string]*Set{},
		Maps:         map[string]*Map{},
		UDP:          map[netip.AddrPort][]netip.AddrPort{},
		HealthChecks: map[int32]HealthCheck{},
	}
}

func (rs *Ruleset) chain(name string, rules ...string) *Chain {
	c := &Chain{Name: name, Rules: rules}
	rs.Chains[name] = c
	return c
}

func (rs *Ruleset) baseChain(name, typ, hook, priority string, rules ...string) {
	rs.Chains[name] = &Chain{Name: name, Hook: &Hook{Type: typ, Hook: hook, Priority: priority}, Rules: rules}
}

func (rs *Ruleset) set(name, typ string) *Set {
	s := &Set{Name: name, Type: typ, Elements: map[string]bool{}}
	rs.Sets[name] = s
	return s
}

func (rs *Ruleset) vmap(name, typ string) *Map {
	m := &Map{Name: name, Type: typ, Elements: map[string]string{}}
	rs.Maps[name] = m
	return m
}

// sameDefinition reports whether two sets are declared alike (elements
// aside).
func (s *Set) sameDefinition(o *Set) bool {
	return s.Type == o.Type && s.Dynamic == o.Dynamic && s.Timeout == o.Timeout
}

func (c *Chain) sameHook(o *Chain) bool {
	if (c.Hook == nil) != (o.Hook == nil) {
		return false
	}
	return c.Hook == nil || *c.Hook == *o.Hook
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
