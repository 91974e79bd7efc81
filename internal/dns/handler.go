package dns

import (
	"context"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxUDPSize caps UDP answers whatever buffer a client offers: the DNS
// flag day 2020 size, which crosses common paths unfragmented. Larger
// answers go out truncated and the client asks again over TCP.
const maxUDPSize = 1232

// handler serves one transport; tcp says which.
type handler struct {
	s   *Server
	tcp bool
}

func (h handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	start := time.Now()
	resp, src := h.s.respond(req)
	fitResponse(req, resp, h.tcp)
	if err := w.WriteMsg(resp); err != nil {
		h.s.log.Debug("writing a DNS answer", "client", w.RemoteAddr().String(), "err", err)
	}
	proto, qtype := "udp", "other"
	if h.tcp {
		proto = "tcp"
	}
	if len(req.Question) == 1 {
		qtype = typeLabel(req.Question[0].Qtype)
	}
	requestsTotal.WithLabelValues(proto, qtype, rcodeLabel(resp.Rcode), string(src)).Inc()
	requestDuration.WithLabelValues(string(src)).Observe(time.Since(start).Seconds())
}

// respond answers req from the zone, the cache or upstream.
func (s *Server) respond(req *dns.Msg) (*dns.Msg, source) {
	resp := new(dns.Msg)
	resp.SetReply(req) // copies the question as asked: clients match its case
	resp.RecursionAvailable = true
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp, sourceZone
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		resp.Rcode = dns.RcodeBadVers
		return resp, sourceZone
	}
	q := req.Question[0]
	if s.zone.inZone(q.Name) {
		if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY || q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
			resp.Rcode = dns.RcodeRefused
			return resp, sourceZone
		}
	}
	if q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY {
		if r, ok := s.zone.lookup(q); ok {
			resp.Authoritative = true
			resp.Rcode, resp.Answer, resp.Ns, resp.Extra = r.rcode, r.answer, r.ns, r.extra
			if r.chase != "" {
				s.chase(req, resp, r.chase)
			}
			return resp, sourceZone
		}
	}
	do, cd := dnssecBits(req)
	up, src, err := s.fwd.resolve(s.ctx(), q, do, cd)
	if err != nil {
		s.log.Debug("forwarding failed", "name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
		resp.Rcode = dns.RcodeServerFailure
		return resp, src
	}
	resp.Rcode, resp.Answer, resp.Ns, resp.Extra = up.Rcode, up.Answer, up.Ns, up.Extra
	resp.Authoritative, resp.AuthenticatedData = up.Authoritative, up.AuthenticatedData
	echoCase(resp.Answer, q.Name)
	return resp, src
}

// echoCase spells the owner names of records for the asked name as the
// client asked it: the cache is shared by every spelling, and clients that
// randomise case (draft-vixie-dnsext-0x20) compare the answer's.
func echoCase(rrs []dns.RR, asked string) {
	for _, rr := range rrs {
		if h := rr.Header(); h.Name != asked && strings.EqualFold(h.Name, asked) {
			h.Name = asked
		}
	}
}

// chase completes an ExternalName's CNAME with the target's records from
// upstream; the rcode becomes the target's (RFC 6604).
func (s *Server) chase(req, resp *dns.Msg, target string) {
	q := dns.Question{Name: target, Qtype: req.Question[0].Qtype, Qclass: dns.ClassINET}
	do, cd := dnssecBits(req)
	up, _, err := s.fwd.resolve(s.ctx(), q, do, cd)
	if err != nil {
		resp.Rcode = dns.RcodeServerFailure
		return
	}
	resp.Rcode = up.Rcode
	resp.Answer = append(resp.Answer, up.Answer...)
	if len(up.Answer) == 0 {
		resp.Ns = up.Ns
	}
}

func dnssecBits(req *dns.Msg) (do, cd bool) {
	if opt := req.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	return do, req.CheckingDisabled
}

// fitResponse adds the OPT record an EDNS0 client expects and makes resp
// fit the transport: the client's UDP buffer (512 without EDNS0, at most
// maxUDPSize), or 64 KiB over TCP. Additional records are optional (RFC
// 2181 §9), so they go first; if the answer itself does not fit, records
// are dropped and TC set, and the client retries over TCP.
func fitResponse(req, resp *dns.Msg, tcp bool) {
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(maxUDPSize, opt.Do())
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
	}
	if tcp {
		size = dns.MaxMsgSize
	}
	// Most answers fit uncompressed, which is also the cheapest length to
	// compute and the cheapest message to pack.
	resp.Compress = false
	if resp.Len() <= size {
		return
	}
	resp.Compress = true
	if resp.Len() <= size {
		return
	}
	opt := resp.IsEdns0()
	resp.Extra = nil
	if opt != nil {
		resp.Extra = []dns.RR{opt}
	}
	resp.Truncate(size)
	resp.Compress = true
}

// ctx is the context forwarded questions run under: the server's, so
// shutting down ends them.
func (s *Server) ctx() context.Context {
	if ctx := s.runCtx.Load(); ctx != nil {
		return *ctx
	}
	return context.Background()
}
