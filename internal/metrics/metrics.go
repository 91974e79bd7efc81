// Package metrics holds the process-wide Prometheus registry of skiff's
// components (controllers, scheduler, kubelet). The API server serves it on
// /metrics next to its own series, so a single-binary cluster is scraped at
// one place; the standalone `skiff controller-manager` and `skiff
// scheduler` serve it on their own metrics address.
package metrics

import (
	"net/http"
	"syscall"
	"time"

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

// ProcessCPU is the user and system CPU time this process has used, all
// threads included (0 if the kernel will not say); benchmarks report it
// per op because on a shared machine it moves less with other load than
// wall time does.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
