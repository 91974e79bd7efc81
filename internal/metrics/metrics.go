// Package metrics holds the process-wide Prometheus registry of skiff's
// components (controllers, scheduler, kubelet). The API server serves it on
// /metrics next to its own series, so a single-binary cluster is scraped at
// one place; the standalone `skiff controller-manager` and `skiff
// scheduler` serve it on their own metrics address.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is where components register their series. It holds no Go or
// process collectors: whoever serves it alongside another registry adds
// those once.
var Registry = prometheus.NewRegistry()

// Handler serves Registry plus the Go runtime and process series, for a
// component running on its own.
func Handler() http.Handler {
	g := prometheus.NewRegistry()
	g.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(prometheus.Gatherers{Registry, g}, promhttp.HandlerOpts{})
}
