package storage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the storage layer's Prometheus series, named as upstream's
// (k8s.io/apiserver's etcd3 metrics) so dashboards that split API latency
// into time spent in etcd and time spent in the server read them
// unchanged. One Metrics serves every Store of a server; each Store labels
// its series with its StoreConfig.Resource.
type Metrics struct {
	latency  *prometheus.HistogramVec
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	objects  *prometheus.GaugeVec
}

// NewMetrics registers the storage series in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"operation", "type"}
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "etcd_request_duration_seconds",
			Help: "Etcd request latency in seconds for each operation and object type.",
			Buckets: []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3,
				4, 5, 6, 8, 10, 15, 20, 30, 45, 60},
		}, labels),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etcd_requests_total",
			Help: "Etcd request counts for each operation and object type.",
		}, labels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etcd_request_errors_total",
			Help: "Etcd failed request counts for each operation and object type.",
		}, labels),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_storage_objects",
			Help: "Number of stored objects at the time of last check split by kind.",
		}, []string{"resource"}),
	}
	reg.MustRegister(m.latency, m.requests, m.errors, m.objects)
	return m
}

// The operation label's values, as upstream's.
const (
	opCreate = "create"
	opGet    = "get"
	opList   = "list"
	opUpdate = "update"
	opDelete = "delete"
)

// requestMetrics are one Store's series; the zero value (no Metrics
// configured) records nothing.
type requestMetrics struct {
	latency          map[string]prometheus.Observer
	requests, errors map[string]prometheus.Counter
	objects          prometheus.Gauge
}

func (m *Metrics) forResource(resource string) requestMetrics {
	if m == nil || resource == "" {
		return requestMetrics{}
	}
	r := requestMetrics{
		latency:  map[string]prometheus.Observer{},
		requests: map[string]prometheus.Counter{},
		errors:   map[string]prometheus.Counter{},
		objects:  m.objects.WithLabelValues(resource),
	}
	// The children are looked up once: a request pays a map read, not a
	// label hash.
	for _, op := range []string{opCreate, opGet, opList, opUpdate, opDelete} {
		r.latency[op] = m.latency.WithLabelValues(op, resource)
		r.requests[op] = m.requests.WithLabelValues(op, resource)
		r.errors[op] = m.errors.WithLabelValues(op, resource)
	}
	return r
}

// observe records one etcd request of op that started at start and ended
// with err.
func (r requestMetrics) observe(op string, start time.Time, err error) {
	if r.latency == nil {
		return
	}
	r.latency[op].Observe(time.Since(start).Seconds())
	r.requests[op].Inc()
	if err != nil {
		r.errors[op].Inc()
	}
}

// setObjects records how many objects the resource holds.
func (r requestMetrics) setObjects(n int) {
	if r.objects != nil {
		r.objects.Set(float64(n))
	}
}
