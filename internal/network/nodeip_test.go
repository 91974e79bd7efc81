package network

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestChooseNodeIP(t *testing.T) {
	a := netip.MustParseAddr
	ifs := []ifaceAddrs{
		{name: "lo", up: true, loopback: true, addrs: []netip.Addr{a("127.0.0.1")}},
		{name: "cni0", up: true, addrs: []netip.Addr{a("10.42.0.1")}},
		{name: "veth1234", up: true, addrs: []netip.Addr{a("10.42.0.9")}},
		{name: "eth9", up: false, addrs: []netip.Addr{a("192.168.9.9")}},
		{name: "eth0", up: true, addrs: []netip.Addr{a("169.254.1.1"), a("fd00::1"), a("192.168.1.10")}},
		{name: "eth1", up: true, addrs: []netip.Addr{a("172.16.0.10")}},
	}
	for _, tc := range []struct {
		src  netip.Addr
		ifs  []ifaceAddrs
		want string
	}{
		{a("172.16.0.10"), ifs, "172.16.0.10"},
		{netip.Addr{}, ifs, "192.168.1.10"},
		{a("127.0.0.1"), ifs, "192.168.1.10"},
		{netip.Addr{}, ifs[:4], "invalid IP"},
	} {
		got, ok := chooseNodeIP(tc.src, tc.ifs)
		if got.String() != tc.want || ok != got.IsValid() {
			t.Errorf("chooseNodeIP(%v, %d interfaces) = %v, %v; want %s", tc.src, len(tc.ifs), got, ok, tc.want)
		}
	}
}

func TestDefaultNodeIP(t *testing.T) {
	requireNetns(t)
	name := fmt.Sprintf("sk%06xn", rand.IntN(1<<24))
	h := newNetns(t, name)
	ip := func(args ...string) { run(t, append([]string{"ip", "-n", name}, args...)...) }
	// The pod bridge and a pod's veth come first and must be passed over.
	ip("link", "add", "cni0", "type", "bridge")
	ip("addr", "add", "10.42.0.1/24", "dev", "cni0")
	ip("link", "set", "cni0", "up")
	ip("link", "add", "vethpod", "type", "veth", "peer", "name", "podeth")
	ip("addr", "add", "10.42.0.5/24", "dev", "vethpod")
	ip("link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
	ip("addr", "add", "192.168.50.10/24", "dev", "eth1")
	ip("link", "add", "eth2", "type", "veth", "peer", "name", "eth2p")
	ip("addr", "add", "172.16.5.5/24", "dev", "eth2")
	for _, l := range []string{"vethpod", "podeth", "eth1", "eth1p", "eth2", "eth2p"} {
		ip("link", "set", l, "up")
	}

	got, err := defaultNodeIP(h)
	if err != nil || got.String() != "192.168.50.10" {
		t.Errorf("without a default route: %v, %v; want 192.168.50.10", got, err)
	}
	ip("route", "add", "default", "via", "172.16.5.1")
	got, err = defaultNodeIP(h)
	if err != nil || got.String() != "172.16.5.5" {
		t.Errorf("with a default route via eth2: %v, %v; want 172.16.5.5", got, err)
	}
	// A preferred source on the route wins over the link's first address.
	ip("addr", "add", "172.16.5.6/24", "dev", "eth2")
	ip("route", "replace", "default", "via", "172.16.5.1", "src", "172.16.5.6")
	got, err = defaultNodeIP(h)
	if err != nil || got.String() != "172.16.5.6" {
		t.Errorf("with a default route with src: %v, %v; want 172.16.5.6", got, err)
	}
}
