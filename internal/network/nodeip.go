package network

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultNodeIP picks the address a node advertises as its InternalIP
// when none is given: the source address the kernel uses for its default
// IPv4 route, which on a host with several interfaces is the one facing
// the rest of the network; without a default route, the first global
// unicast IPv4 address of an up, non-loopback interface that is not
// skiff's pod bridge (cni0) or a pod's veth.
func DefaultNodeIP() (net.IP, error) {
	return defaultNodeIP(&netlink.Handle{})
}

func defaultNodeIP(h *netlink.Handle) (net.IP, error) {
	src := defaultRouteSource(h)
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	var ifs []ifaceAddrs
	for _, l := range links {
		a := l.Attrs()
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			continue
		}
		ia := ifaceAddrs{name: a.Name, up: a.Flags&net.FlagUp != 0 && a.OperState != netlink.OperDown,
			loopback: a.Flags&net.FlagLoopback != 0}
		for _, ad := range addrs {
			if ip, ok := netip.AddrFromSlice(ad.IP); ok && ad.Scope == unix.RT_SCOPE_UNIVERSE {
				ia.addrs = append(ia.addrs, ip.Unmap())
			}
		}
		ifs = append(ifs, ia)
	}
	ip, ok := chooseNodeIP(src, ifs)
	if !ok {
		return nil, errors.New("no global unicast IPv4 address on any up interface")
	}
	return ip.AsSlice(), nil
}

// defaultRouteSource is the source address the kernel picks for the
// main table's preferred default IPv4 route, if there is one.
func defaultRouteSource(h *netlink.Handle) netip.Addr {
	rts, err := listRoutes(h, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return netip.Addr{}
	}
	var best *netlink.Route
	for i, r := range rts {
		if r.Family != netlink.FAMILY_V4 || (r.Dst != nil && !r.Dst.IP.IsUnspecified()) {
			continue
		}
		if ones, _ := maskSize(r.Dst); ones != 0 {
			continue
		}
		if best == nil || r.Priority < best.Priority {
			best = &rts[i]
		}
	}
	if best == nil {
		return netip.Addr{}
	}
	if src, ok := netip.AddrFromSlice(best.Src); ok {
		return src.Unmap()
	}
	// No preferred source on the route: the one the kernel would use
	// towards the gateway (or the link's, for a device-only default).
	via := best.Gw
	if via == nil {
		via = net.IPv4(192, 0, 2, 1)
	}
	got, err := h.RouteGet(via)
	if err != nil || len(got) == 0 {
		return netip.Addr{}
	}
	src, _ := netip.AddrFromSlice(got[0].Src)
	return src.Unmap()
}

func maskSize(n *net.IPNet) (int, int) {
	if n == nil {
		return 0, 32
	}
	return n.Mask.Size()
}

// ifaceAddrs is what chooseNodeIP needs to know about an interface.
type ifaceAddrs struct {
	name         string
	up, loopback bool
	addrs        []netip.Addr
}

// chooseNodeIP is DefaultNodeIP's decision: the default route's source if
// valid, else the first suitable address in interface order.
func chooseNodeIP(defaultSrc netip.Addr, ifs []ifaceAddrs) (netip.Addr, bool) {
	if defaultSrc.Is4() && defaultSrc.IsGlobalUnicast() {
		return defaultSrc, true
	}
	for _, i := range ifs {
		if !i.up || i.loopback || podInterface(i.name) {
			continue
		}
		for _, a := range i.addrs {
			if a.Is4() && a.IsGlobalUnicast() {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// podInterface reports names of interfaces the pod network creates on a
// node. It goes by name, not link type: in a container the host-facing
// eth0 is itself a veth.
func podInterface(name string) bool {
	return name == "cni0" || strings.HasPrefix(name, "veth")
}
