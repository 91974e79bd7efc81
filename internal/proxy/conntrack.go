package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// UDP has no connection teardown, so a client that keeps sending from
// the same port keeps its conntrack entry, and with it the DNAT to an
// endpoint that may be gone. Like kube-proxy, the proxy deletes such
// entries after each sync that changed UDP endpoints: entries DNATed to
// an endpoint the destination no longer uses, and entries that were not
// DNATed at all (created while the service had no endpoints) to a
// destination that now has some.

// flow is one conntrack entry: the original direction and the reply
// direction (after DNAT, the reply comes from the endpoint).
type flow struct {
	origSrc, origDst   netip.AddrPort
	replySrc, replyDst netip.AddrPort
}

// staleUDPFlows picks the flows to delete given, for each UDP service
// destination, the endpoints it may reach now. Flows to other
// destinations are left alone.
func staleUDPFlows(flows []flow, udp map[netip.AddrPort][]netip.AddrPort) []flow {
	var out []flow
	for _, f := range flows {
		eps, ok := udp[f.origDst]
		if !ok {
			continue
		}
		dnated := f.replySrc != f.origDst
		switch {
		case dnated && !slices.Contains(eps, f.replySrc):
			out = append(out, f)
		case !dnated && len(eps) > 0:
			out = append(out, f)
		}
	}
	return out
}

// udpTargets returns, when some UDP destination's endpoints differ
// between two Rulesets, what conntrack cleanup should hold the flows
// against: next's destinations, plus prev's vanished ones with no
// endpoints (their flows still carry a DNAT to the old endpoints). It
// returns nil when nothing changed.
func udpTargets(prev, next map[netip.AddrPort][]netip.AddrPort) map[netip.AddrPort][]netip.AddrPort {
	changed := false
	for dst, eps := range next {
		old, ok := prev[dst]
		if !ok || len(old) != len(eps) || slices.ContainsFunc(eps, func(e netip.AddrPort) bool { return !slices.Contains(old, e) }) {
			changed = true
			break
		}
	}
	out := maps.Clone(next)
	for dst := range prev {
		if _, ok := next[dst]; !ok {
			changed = true
			if out == nil {
				out = map[netip.AddrPort][]netip.AddrPort{}
			}
			out[dst] = nil
		}
	}
	if !changed {
		return nil
	}
	return out
}

// Netlink constants of ctnetlink (linux/netfilter/nfnetlink_conntrack.h).
const (
	nfnlSubsysCTNetlink = 1
	ipctnlMsgCTGet      = 1
	ipctnlMsgCTDelete   = 2

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaIPv4Src    = 1
	ctaIPv4Dst    = 2
	ctaProtoNum   = 1
	ctaProtoSrc   = 2
	ctaProtoDst   = 3
)

// cleanUDPConntrack deletes the stale UDP flows of the network namespace
// the calling thread is in, and returns how many it deleted.
func cleanUDPConntrack(udp map[netip.AddrPort][]netip.AddrPort) (int, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return 0, fmt.Errorf("conntrack: %w", err)
	}
	defer c.Close()
	flows, err := dumpUDPFlows(c)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, f := range staleUDPFlows(flows, udp) {
		if err := deleteFlow(c, f); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func conntrackHeader(msg uint16, flags netlink.HeaderFlags) netlink.Header {
	return netlink.Header{Type: netlink.HeaderType(nfnlSubsysCTNetlink<<8 | msg), Flags: netlink.Request | flags}
}

// nfgenmsg: family AF_INET, version 0, resource id 0.
var nfgenIPv4 = []byte{unix.AF_INET, 0, 0, 0}

func dumpUDPFlows(c *netlink.Conn) ([]flow, error) {
	msgs, err := c.Execute(netlink.Message{Header: conntrackHeader(ipctnlMsgCTGet, netlink.Dump), Data: nfgenIPv4})
	if err != nil {
		return nil, fmt.Errorf("conntrack dump: %w", err)
	}
	var out []flow
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		f, proto, err := decodeFlow(m.Data[4:])
		if err != nil {
			return nil, fmt.Errorf("conntrack dump: %w", err)
		}
		if proto == unix.IPPROTO_UDP {
			out = append(out, f)
		}
	}
	return out, nil
}

func decodeFlow(b []byte) (flow, uint8, error) {
	var f flow
	var proto uint8
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return f, 0, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleOrig:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				f.origSrc, f.origDst, proto = decodeTuple(nad)
				return nil
			})
		case ctaTupleReply:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				f.replySrc, f.replyDst, _ = decodeTuple(nad)
				return nil
			})
		}
	}
	return f, proto, ad.Err()
}

func decodeTuple(ad *netlink.AttributeDecoder) (src, dst netip.AddrPort, proto uint8) {
	var sip, dip netip.Addr
	var sport, dport uint16
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleIP:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					a, _ := netip.AddrFromSlice(nad.Bytes())
					switch nad.Type() {
					case ctaIPv4Src:
						sip = a
					case ctaIPv4Dst:
						dip = a
					}
				}
				return nil
			})
		case ctaTupleProto:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				nad.ByteOrder = binary.BigEndian
				for nad.Next() {
					switch nad.Type() {
					case ctaProtoNum:
						proto = nad.Uint8()
					case ctaProtoSrc:
						sport = nad.Uint16()
					case ctaProtoDst:
						dport = nad.Uint16()
					}
				}
				return nil
			})
		}
	}
	return netip.AddrPortFrom(sip, sport), netip.AddrPortFrom(dip, dport), proto
}

func deleteFlow(c *netlink.Conn, f flow) error {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Nested(ctaTupleOrig, func(t *netlink.AttributeEncoder) error {
		t.Nested(ctaTupleIP, func(ip *netlink.AttributeEncoder) error {
			s, d := f.origSrc.Addr().As4(), f.origDst.Addr().As4()
			ip.Bytes(ctaIPv4Src, s[:])
			ip.Bytes(ctaIPv4Dst, d[:])
			return nil
		})
		t.Nested(ctaTupleProto, func(p *netlink.AttributeEncoder) error {
			p.Uint8(ctaProtoNum, unix.IPPROTO_UDP)
			p.Uint16(ctaProtoSrc, f.origSrc.Port())
			p.Uint16(ctaProtoDst, f.origDst.Port())
			return nil
		})
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = c.Execute(netlink.Message{Header: conntrackHeader(ipctnlMsgCTDelete, netlink.Acknowledge),
		Data: append(append([]byte{}, nfgenIPv4...), attrs...)})
	if err != nil {
		return fmt.Errorf("conntrack delete %s -> %s: %w", f.origSrc, f.origDst, err)
	}
	return nil
}
