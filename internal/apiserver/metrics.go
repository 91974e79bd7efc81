package apiserver

import (
	"net/http"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	componentmetrics "github.com/skiff-sh/skiff/internal/metrics"
	"github.com/skiff-sh/skiff/internal/storage"
)

// metrics are the API server's Prometheus series, named as upstream's so
// existing dashboards read them.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// storage: etcd request latency and object counts per resource.
	storage *storage.Metrics
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Counter of apiserver requests broken out by verb, group, version, resource and HTTP code.",
		}, []string{"verb", "group", "version", "resource", "subresource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_request_duration_seconds",
			Help:    "Response latency distribution in seconds for each verb, group, version and resource.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 5, 10, 30, 60},
		}, []string{"verb", "group", "version", "resource", "subresource"}),
	}
	m.registry.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler, cpuClasses)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.storage = storage.NewMetrics(m.registry)
	return m
}

// cpuClasses are the Go runtime's estimates of where the process's CPU went
// (GC, scavenger, idle, user), beside the scheduler's latency histogram:
// together they tell a server starved of CPU from one busy collecting.
var cpuClasses = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/cpu/classes/.*`)}

// serveMetrics serves the API server's series and those of the components
// running in the same process (controllers, scheduler, kubelet).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	g := prometheus.Gatherers{s.metrics.registry, componentmetrics.Registry}
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// statusRecorder remembers the response code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (hijacking for
// upgrades).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
