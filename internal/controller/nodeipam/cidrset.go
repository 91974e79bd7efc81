package nodeipam

import (
	"fmt"
	"math/big"
	"net"
	"sync"
)

// maxSubnetBits caps how many subnets a cluster CIDR may be split into
// (2^20): the set keeps one owner entry per subnet in use and scans for
// the lowest free one.
const maxSubnetBits = 20

// cidrSet hands out the subnets of size maskSize of one cluster CIDR,
// lowest free first. It records which node holds each subnet, so a node
// releases only what it holds. It is safe for concurrent use.
type cidrSet struct {
	base     *big.Int // first address of the cluster CIDR
	ipLen    int      // 4 or 16 bytes
	shift    uint     // address bits below the subnet mask
	maskSize int
	count    int // number of subnets

	mu    sync.Mutex
	owner map[int]string // subnet index -> node name
}

func newCIDRSet(cluster *net.IPNet, maskSize int) (*cidrSet, error) {
	ones, bits := cluster.Mask.Size()
	if bits == 0 {
		return nil, fmt.Errorf("cluster CIDR %v has a non-canonical mask", cluster)
	}
	if maskSize < ones || maskSize > bits {
		return nil, fmt.Errorf("node mask size %d must be between the cluster CIDR's %d and %d", maskSize, ones, bits)
	}
	if maskSize-ones > maxSubnetBits {
		return nil, fmt.Errorf("node mask size %d splits %v into more than 2^%d subnets", maskSize, cluster, maxSubnetBits)
	}
	ip := cluster.IP.Mask(cluster.Mask)
	if bits == 32 {
		ip = ip.To4()
	} else {
		ip = ip.To16()
	}
	return &cidrSet{
		base:     new(big.Int).SetBytes(ip),
		ipLen:    bits / 8,
		shift:    uint(bits - maskSize),
		maskSize: maskSize,
		count:    1 << (maskSize - ones),
		owner:    map[int]string{},
	}, nil
}

// cidr is subnet i.
func (s *cidrSet) cidr(i int) *net.IPNet {
	v := new(big.Int).Lsh(big.NewInt(int64(i)), s.shift)
	v.Add(v, s.base)
	ip := make(net.IP, s.ipLen)
	v.FillBytes(ip)
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(s.maskSize, s.ipLen*8)}
}

// index is the subnet number of cidr, or false if cidr is not exactly one
// of the set's subnets.
func (s *cidrSet) index(cidr string) (int, bool) {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil || !ip.Equal(n.IP) {
		return 0, false
	}
	ones, bits := n.Mask.Size()
	if ones != s.maskSize || bits != s.ipLen*8 {
		return 0, false
	}
	addr := n.IP.To16()
	if s.ipLen == 4 {
		addr = n.IP.To4()
	}
	if addr == nil {
		return 0, false
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(addr), s.base)
	if off.Sign() < 0 {
		return 0, false
	}
	off.Rsh(off, s.shift)
	if !off.IsInt64() || off.Int64() >= int64(s.count) {
		return 0, false
	}
	return int(off.Int64()), true
}

// allocate marks the lowest free subnet as node's and returns it, or
// false when every subnet is taken.
func (s *cidrSet) allocate(node string) (*net.IPNet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < s.count; i++ {
		if _, used := s.owner[i]; !used {
			s.owner[i] = node
			return s.cidr(i), true
		}
	}
	return nil, false
}

// occupy records that node holds cidr. It returns the node that already
// held it if that is another node (the cidr stays with the first), and
// ok=false if cidr is not one of the set's subnets.
func (s *cidrSet) occupy(cidr, node string) (holder string, ok bool) {
	i, ok := s.index(cidr)
	if !ok {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, used := s.owner[i]; used {
		return h, true
	}
	s.owner[i] = node
	return node, true
}

// release frees cidr if node holds it, and reports whether it did.
func (s *cidrSet) release(cidr, node string) bool {
	i, ok := s.index(cidr)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner[i] != node {
		return false
	}
	delete(s.owner, i)
	return true
}

// used is the number of subnets taken.
func (s *cidrSet) used() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.owner)
}
