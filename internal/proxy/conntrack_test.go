package proxy

import (
	"net/netip"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestStaleUDPFlows(t *testing.T) {
	svc := ap("10.43.0.53:53")
	udp := map[netip.AddrPort][]netip.AddrPort{
		svc:                 {ap("10.42.0.2:5353")},
		ap("10.43.0.54:53"): nil, // no endpoints (or the Service is gone)
	}
	mk := func(dst, replySrc string) flow {
		return flow{origSrc: ap("192.168.1.5:40000"), origDst: ap(dst), replySrc: ap(replySrc), replyDst: ap("192.168.1.5:40000")}
	}
	keep := []flow{
		mk("10.43.0.53:53", "10.42.0.2:5353"), // DNATed to a current endpoint
		mk("10.43.0.54:53", "10.43.0.54:53"),  // not DNATed, and still no endpoint
		mk("8.8.8.8:53", "8.8.8.8:53"),        // not a Service
	}
	drop := []flow{
		mk("10.43.0.53:53", "10.42.0.3:5353"), // DNATed to an endpoint that left
		mk("10.43.0.53:53", "10.43.0.53:53"),  // made while there was no endpoint
		mk("10.43.0.54:53", "10.42.0.9:5353"), // DNATed, Service lost its endpoints
	}
	got := staleUDPFlows(append(append([]flow{}, keep...), drop...), udp)
	if len(got) != len(drop) {
		t.Fatalf("stale = %v, want %v", got, drop)
	}
	for i := range drop {
		if got[i] != drop[i] {
			t.Errorf("stale[%d] = %v, want %v", i, got[i], drop[i])
		}
	}
}

func TestUDPTargets(t *testing.T) {
	a := map[netip.AddrPort][]netip.AddrPort{ap("10.43.0.53:53"): {ap("10.42.0.2:5353"), ap("10.42.0.3:5353")}}
	same := map[netip.AddrPort][]netip.AddrPort{ap("10.43.0.53:53"): {ap("10.42.0.3:5353"), ap("10.42.0.2:5353")}}
	if udpTargets(a, same) != nil {
		t.Error("reordered endpoints counted as a change")
	}
	fewer := map[netip.AddrPort][]netip.AddrPort{ap("10.43.0.53:53"): {ap("10.42.0.2:5353")}}
	if got := udpTargets(a, fewer); len(got[ap("10.43.0.53:53")]) != 1 {
		t.Errorf("endpoint removal: %v", got)
	}
	got := udpTargets(a, nil)
	if eps, ok := got[ap("10.43.0.53:53")]; !ok || eps != nil {
		t.Errorf("a deleted Service must be cleaned with no endpoints: %v", got)
	}
	if udpTargets(nil, nil) != nil {
		t.Error("nothing to nothing is a change")
	}
}
