package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

const (
	// upstreamUDPSize is the EDNS0 buffer size offered upstream, the DNS
	// flag day 2020 value: answers that fit arrive unfragmented, larger
	// ones come truncated and are fetched again over TCP.
	upstreamUDPSize = 1232
	// upstreamTimeout bounds one exchange with one upstream.
	upstreamTimeout = 2 * time.Second
	// forwardTimeout bounds the whole forwarding of one question, over
	// every upstream.
	forwardTimeout = 5 * time.Second
)

var errNoUpstreams = errors.New("no upstream resolvers configured")

// forwarder answers questions outside the cluster from upstream
// resolvers, through a cache. Concurrent identical questions that miss the
// cache share one upstream exchange.
type forwarder struct {
	upstreams []string // ip:port
	udp, tcp  *dns.Client
	cache     *responseCache
	flight    singleflight.Group
	next      atomic.Uint32 // round-robin start among upstreams
}

func newForwarder(upstreams []string, cache *responseCache) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		udp:       &dns.Client{Net: "udp", UDPSize: upstreamUDPSize, Timeout: upstreamTimeout},
		tcp:       &dns.Client{Net: "tcp", Timeout: upstreamTimeout},
		cache:     cache,
	}
}

// source names where an answer came from, for metrics.
type source string

const (
	sourceZone     source = "zone"
	sourceCache    source = "cache"
	sourceUpstream source = "upstream"
)

// resolve answers q from the cache or upstream, under ctx (the server's).
// The message is the caller's to modify; it carries no OPT record.
func (f *forwarder) resolve(ctx context.Context, q dns.Question, do, cd bool) (*dns.Msg, source, error) {
	k := keyOf(q, do, cd)
	if m, negative, ok := f.cache.get(k); ok {
		kind := "positive"
		if negative {
			kind = "negative"
		}
		cacheHits.WithLabelValues(kind).Inc()
		return m, sourceCache, nil
	}
	cacheMisses.Inc()
	flightKey := fmt.Sprintf("%s/%d/%d/%t/%t", k.name, k.qtype, k.qclass, k.do, k.cd)
	v, err, _ := f.flight.Do(flightKey, func() (any, error) {
		// ctx is the server's, not one caller's: the exchange serves every
		// caller waiting on it, and ends only with the server.
		ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
		defer cancel()
		m, err := f.exchange(ctx, q, do, cd)
		if err != nil {
			return nil, err
		}
		f.cache.put(k, m)
		return m, nil
	})
	if err != nil {
		return nil, sourceUpstream, err
	}
	return v.(*dns.Msg).Copy(), sourceUpstream, nil
}

// exchange asks the upstreams in turn, starting from a rotating one, until
// one answers other than SERVFAIL or REFUSED. The answer has no OPT.
func (f *forwarder) exchange(ctx context.Context, q dns.Question, do, cd bool) (*dns.Msg, error) {
	n := len(f.upstreams)
	if n == 0 {
		return nil, errNoUpstreams
	}
	start := int(f.next.Add(1))
	var lastAnswer *dns.Msg
	var lastErr error
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		up := f.upstreams[(start+i)%n]
		r, err := f.exchangeWith(ctx, up, q, do, cd)
		if err != nil {
			forwardErrors.WithLabelValues(up).Inc()
			lastErr = fmt.Errorf("upstream %s: %w", up, err)
			continue
		}
		if r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused {
			lastAnswer = r
			continue
		}
		return r, nil
	}
	if lastAnswer != nil {
		return lastAnswer, nil
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	return nil, lastErr
}

// exchangeWith asks one upstream over UDP, and again over TCP when the
// answer came truncated, so the cache holds whole answers.
func (f *forwarder) exchangeWith(ctx context.Context, upstream string, q dns.Question, do, cd bool) (*dns.Msg, error) {
	start := time.Now()
	defer func() { forwardDuration.WithLabelValues(upstream).Observe(time.Since(start).Seconds()) }()
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	m.CheckingDisabled = cd
	m.Question = []dns.Question{q}
	m.SetEdns0(upstreamUDPSize, do)
	r, _, err := f.udp.ExchangeContext(ctx, m, upstream)
	if err == nil && r.Truncated {
		r, _, err = f.tcp.ExchangeContext(ctx, m, upstream)
	}
	if err != nil {
		return nil, err
	}
	if len(r.Question) != 1 || r.Question[0].Qtype != q.Qtype || !strings.EqualFold(r.Question[0].Name, q.Name) {
		return nil, errors.New("answer is for another question")
	}
	r.Extra = withoutOPT(r.Extra)
	return r, nil
}

// withoutOPT drops the OPT pseudo-record: EDNS0 is per hop, and the
// server adds its own for its client.
func withoutOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
