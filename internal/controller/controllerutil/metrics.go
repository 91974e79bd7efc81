package controllerutil

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/metrics"
)

// The workqueue series carry upstream's names (workqueue_depth,
// workqueue_work_duration_seconds, ...) with the queue's name as label, so
// dashboards built for kube-controller-manager read skiff's the same way:
// depth is the backlog, work duration is the sync latency per key.
var (
	depth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: "workqueue", Name: "depth",
		Help: "Current depth of workqueue",
	}, []string{"name"})
	adds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: "workqueue", Name: "adds_total",
		Help: "Total number of adds handled by workqueue",
	}, []string{"name"})
	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: "workqueue", Name: "queue_duration_seconds",
		Help:    "How long in seconds an item stays in workqueue before being requested.",
		Buckets: prometheus.ExponentialBuckets(10e-9, 10, 10),
	}, []string{"name"})
	workDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: "workqueue", Name: "work_duration_seconds",
		Help:    "How long in seconds processing an item from workqueue takes.",
		Buckets: prometheus.ExponentialBuckets(10e-9, 10, 10),
	}, []string{"name"})
	unfinished = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: "workqueue", Name: "unfinished_work_seconds",
		Help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration.",
	}, []string{"name"})
	longestRunning = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: "workqueue", Name: "longest_running_processor_seconds",
		Help: "How many seconds has the longest running processor for workqueue been running.",
	}, []string{"name"})
	retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: "workqueue", Name: "retries_total",
		Help: "Total number of retries handled by workqueue",
	}, []string{"name"})
	syncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_controller_sync_errors_total",
		Help: "Syncs that failed and were requeued with backoff, by queue.",
	}, []string{"name"})

	registerOnce sync.Once
)

// registerMetrics installs the workqueue metrics provider once per
// process; client-go only honours the first provider set, and it must be
// set before the first queue is made.
func registerMetrics() {
	registerOnce.Do(func() {
		metrics.Registry.MustRegister(depth, adds, latency, workDuration, unfinished, longestRunning, retries, syncErrors)
		workqueue.SetProvider(provider{})
	})
}

type provider struct{}

func (provider) NewDepthMetric(name string) workqueue.GaugeMetric  { return depth.WithLabelValues(name) }
func (provider) NewAddsMetric(name string) workqueue.CounterMetric { return adds.WithLabelValues(name) }
func (provider) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return latency.WithLabelValues(name)
}
func (provider) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return workDuration.WithLabelValues(name)
}
func (provider) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return unfinished.WithLabelValues(name)
}
func (provider) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return longestRunning.WithLabelValues(name)
}
func (provider) NewRetriesMetric(name string) workqueue.CounterMetric {
	return retries.WithLabelValues(name)
}
