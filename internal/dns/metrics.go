package dns

import (
	"sync"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/internal/metrics"
)

// Series, shaped like CoreDNS's (requests by type and rcode, cache hits
// and misses, forward latency per upstream) under skiff's prefix. They are
// process-wide: every Server in a process adds to the same series.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_dns_requests_total",
		Help: "DNS requests answered, by transport, query type, response code and source (zone, cache, upstream).",
	}, []string{"proto", "type", "rcode", "source"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skiff_dns_request_duration_seconds",
		Help:    "Time to answer a DNS request, by source (zone, cache, upstream).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10), // 50µs .. 13s
	}, []string{"source"})
	cacheHits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_dns_cache_hits_total",
		Help: "Forwarded questions answered from the cache, by kind (positive, negative).",
	}, []string{"kind"})
	cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "skiff_dns_cache_misses_total",
		Help: "Forwarded questions the cache could not answer.",
	})
	cacheEntries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "skiff_dns_cache_entries",
		Help: "Answers held in the forwarding cache.",
	})
	forwardDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skiff_dns_forward_duration_seconds",
		Help:    "Time of one exchange with an upstream resolver (a UDP try plus its TCP retry if truncated).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms .. 4s
	}, []string{"upstream"})
	forwardErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_dns_forward_errors_total",
		Help: "Exchanges with an upstream resolver that failed (timeout, network error, malformed answer).",
	}, []string{"upstream"})

	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() {
		metrics.Registry.MustRegister(requestsTotal, requestDuration, cacheHits, cacheMisses, cacheEntries, forwardDuration, forwardErrors)
	})
}

// typeLabel keeps the type label's values few: the types clients ask
// for, and "other".
func typeLabel(qtype uint16) string {
	switch qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypePTR, dns.TypeCNAME, dns.TypeTXT,
		dns.TypeMX, dns.TypeNS, dns.TypeSOA, dns.TypeANY, dns.TypeHTTPS, dns.TypeSVCB:
		return dns.TypeToString[qtype]
	}
	return "other"
}

func rcodeLabel(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "other"
}
