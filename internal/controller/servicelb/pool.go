package servicelb

import (
	"fmt"
	"net/netip"
	"sync"
)

// IPRange is an inclusive range of addresses of one family.
type IPRange struct {
	First, Last netip.Addr
}

// pool hands out the addresses of its ranges, one per Service key. It is
// safe for concurrent use. An address is held by at most one key, and a
// key holds at most one address.
type pool struct {
	ranges []IPRange

	mu     sync.Mutex
	holder map[netip.Addr]string // address -> service key
	held   map[string]netip.Addr // service key -> address
}

// newPool builds a pool from prefixes and ranges. A prefix of an IPv4
// network larger than a /31 leaves out its network and broadcast
// addresses, which hosts on that subnet would not answer for.
func newPool(prefixes []netip.Prefix, ranges []IPRange) (*pool, error) {
	p := &pool{holder: map[netip.Addr]string{}, held: map[string]netip.Addr{}}
	for _, pr := range prefixes {
		if !pr.IsValid() {
			return nil, fmt.Errorf("invalid pool prefix %v", pr)
		}
		pr = pr.Masked()
		first, last := pr.Addr(), lastAddr(pr)
		if pr.Addr().Is4() && pr.Bits() < 31 {
			first, last = first.Next(), last.Prev()
		}
		p.ranges = append(p.ranges, IPRange{first, last})
	}
	for _, r := range ranges {
		if !r.First.IsValid() || !r.Last.IsValid() || r.First.Is4() != r.Last.Is4() || r.Last.Less(r.First) {
			return nil, fmt.Errorf("invalid pool range %v-%v", r.First, r.Last)
		}
		p.ranges = append(p.ranges, IPRange{r.First.Unmap(), r.Last.Unmap()})
	}
	if len(p.ranges) == 0 {
		return nil, fmt.Errorf("empty address pool")
	}
	return p, nil
}

func lastAddr(pr netip.Prefix) netip.Addr {
	b := pr.Addr().AsSlice()
	for i := pr.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// contains reports whether ip is one of the pool's addresses.
func (p *pool) contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, r := range p.ranges {
		if r.First.Compare(ip) <= 0 && ip.Compare(r.Last) <= 0 {
			return true
		}
	}
	return false
}

// get is the address key holds.
func (p *pool) get(key string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ip, ok := p.held[key]
	return ip, ok
}

// assign gives ip to key, releasing what key held before. It fails when
// ip is outside the pool or held by another key.
func (p *pool) assign(key string, ip netip.Addr) bool {
	ip = ip.Unmap()
	if !p.contains(ip) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.holder[ip]; ok {
		return h == key
	}
	p.releaseLocked(key)
	p.holder[ip], p.held[key] = key, ip
	return true
}

// allocate gives key the lowest free address of the family (v4 or not),
// or the one it holds already; false when none is free.
func (p *pool) allocate(key string, v4 bool) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ip, ok := p.held[key]; ok && ip.Is4() == v4 {
		return ip, true
	}
	for _, r := range p.ranges {
		if r.First.Is4() != v4 {
			continue
		}
		for ip := r.First; ip.IsValid() && ip.Compare(r.Last) <= 0; ip = ip.Next() {
			if _, used := p.holder[ip]; !used {
				p.releaseLocked(key)
				p.holder[ip], p.held[key] = key, ip
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// release frees key's address; it reports whether key held one.
func (p *pool) release(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.releaseLocked(key)
}

func (p *pool) releaseLocked(key string) bool {
	ip, ok := p.held[key]
	if ok {
		delete(p.held, key)
		delete(p.holder, ip)
	}
	return ok
}
