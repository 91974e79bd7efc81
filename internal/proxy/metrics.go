package proxy

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/internal/metrics"
)

// The series are process-wide (one proxy per node process); their names
// follow kube-proxy's sync_proxy_rules_* so its dashboards read them.
var (
	syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skiff_proxy_sync_proxy_rules_duration_seconds",
		Help:    "Time to compute and apply the proxy's nftables table, by mode (full or partial).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	}, []string{"mode"})
	syncsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_proxy_syncs_total",
		Help: "Syncs of the proxy's nftables table, by mode (full or partial) and result (success or error).",
	}, []string{"mode", "result"})

	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() { metrics.Registry.MustRegister(syncDuration, syncsTotal) })
}
