package apiserver

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Response headers naming the flow schema and priority level, as upstream.
const (
	headerFlowSchemaUID    = "X-Kubernetes-PF-FlowSchema-UID"
	headerPriorityLevelUID = "X-Kubernetes-PF-PriorityLevel-UID"
)

// tooManyRequestsMessage is upstream's text for a rejected request.
const tooManyRequestsMessage = "Too many requests, please try again later."

// flowControl is API priority and fairness, simplified. Every request but the
// non-watch long-running ones is classified (fairness_levels.go) into a
// flow schema and a built-in priority level; each limited level owns a
// share of the server's concurrency (MaxRequestsInflight +
// MaxMutatingRequestsInflight, as upstream sums them) and queues what is
// over it per flow (fairness_dispatch.go), as many as upstream lets a flow
// alone at its level queue. A request that finds its queue
// full, or waits longer than RequestQueueTimeout, is answered 429 with
// Retry-After, so an overloaded server sheds load instead of collapsing,
// and a flood at one level or from one user leaves the others their seats.
//
// Not implemented: the FlowSchema and PriorityLevelConfiguration API
// objects (the levels are built in), borrowing of seats between levels,
// shuffle sharding (a flow's hand of queues is one queue as long), and
// upstream's work estimates (a large LIST or a
// write with many watchers counts as one seat here).
type flowControl struct {
	levels  map[string]*level
	metrics *flowControlMetrics
}

func newFlowControl(totalSeats int, queueTimeout time.Duration, reg prometheus.Registerer) *flowControl {
	limits := nominalLimits(totalSeats, builtinLevels)
	fc := &flowControl{levels: map[string]*level{}, metrics: newFlowControlMetrics(reg)}
	for _, cfg := range builtinLevels {
		fc.levels[cfg.name] = newLevel(cfg, limits[cfg.name], queueTimeout)
		if !cfg.exempt {
			fc.metrics.nominalLimit.WithLabelValues(cfg.name).Set(float64(limits[cfg.name]))
		}
	}
	return fc
}

// withFlowControl is the filter. It runs after authentication (it
// classifies by user) and before authorization, where upstream runs it.
func (s *Server) withFlowControl(next http.Handler) http.Handler {
	fc := s.flowControl
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := parseRequestInfo(r)
		if isLongRunning(ri) && ri.Verb != "watch" {
			next.ServeHTTP(w, r)
			return
		}
		u, _ := auth.UserFrom(r.Context())
		c := classify(u, ri)
		lvl := fc.levels[c.level]
		w.Header().Set(headerFlowSchemaUID, flowControlUID("flowschema", c.flowSchema))
		w.Header().Set(headerPriorityLevelUID, flowControlUID("prioritylevel", c.level))

		m := fc.metrics
		inqueue := m.inqueue.WithLabelValues(c.level, c.flowSchema)
		wasQueued := false
		release, waited, err := lvl.acquire(r.Context(), c.flow, func() { wasQueued = true; inqueue.Inc() })
		if wasQueued {
			inqueue.Dec()
		}
		if err != nil {
			reason := rejectQueueFull
			if rj, ok := err.(*rejection); ok {
				reason = rj.reason
			}
			m.rejected.WithLabelValues(c.level, c.flowSchema, reason).Inc()
			m.waitDuration.WithLabelValues(c.level, c.flowSchema, "false").Observe(waited.Seconds())
			if reason == rejectCancelled {
				return // nobody is listening
			}
			s.writeTooManyRequests(w, r)
			return
		}
		m.waitDuration.WithLabelValues(c.level, c.flowSchema, "true").Observe(waited.Seconds())
		executing := m.executing.WithLabelValues(c.level, c.flowSchema)
		executing.Inc()
		var once sync.Once
		done := func() { once.Do(func() { executing.Dec(); release() }) }
		defer done()
		if ri.Verb == "watch" {
			// A watch gives its seat back once it has started: when the
			// response begins.
			w = &seatReleasingWriter{ResponseWriter: w, release: done}
		}
		next.ServeHTTP(w, r)
	})
}

// writeTooManyRequests answers 429 as upstream does: Retry-After: 1, and
// a Status with reason TooManyRequests and details.retryAfterSeconds.
func (s *Server) writeTooManyRequests(w http.ResponseWriter, r *http.Request) {
	const retryAfter = 1
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	s.writeError(w, r, apierrors.NewTooManyRequests(tooManyRequestsMessage, retryAfter))
}

// seatReleasingWriter releases a watch's seat at its first response
// write: by then the watch is established.
type seatReleasingWriter struct {
	http.ResponseWriter
	release func()
}

func (w *seatReleasingWriter) WriteHeader(code int) {
	w.release()
	w.ResponseWriter.WriteHeader(code)
}

func (w *seatReleasingWriter) Write(p []byte) (int, error) {
	w.release()
	return w.ResponseWriter.Write(p)
}

func (w *seatReleasingWriter) Flush() {
	w.release()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *seatReleasingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// flowControlMetrics are upstream's apiserver_flowcontrol_* series.
type flowControlMetrics struct {
	rejected     *prometheus.CounterVec
	inqueue      *prometheus.GaugeVec
	executing    *prometheus.GaugeVec
	waitDuration *prometheus.HistogramVec
	nominalLimit *prometheus.GaugeVec
}

func newFlowControlMetrics(reg prometheus.Registerer) *flowControlMetrics {
	m := &flowControlMetrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_flowcontrol_rejected_requests_total",
			Help: "Requests that flow control answered 429, by priority level, flow schema and reason.",
		}, []string{"priority_level", "flow_schema", "reason"}),
		inqueue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_flowcontrol_current_inqueue_requests",
			Help: "Requests waiting in a flow control queue now.",
		}, []string{"priority_level", "flow_schema"}),
		executing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_flowcontrol_current_executing_requests",
			Help: "Requests holding a flow control seat now (a watch holds one only while it starts).",
		}, []string{"priority_level", "flow_schema"}),
		waitDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_flowcontrol_request_wait_duration_seconds",
			Help:    "Time requests spent queued before running (execute=true) or being rejected (execute=false).",
			Buckets: []float64{0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30},
		}, []string{"priority_level", "flow_schema", "execute"}),
		nominalLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_flowcontrol_nominal_limit_seats",
			Help: "Seats each priority level owns.",
		}, []string{"priority_level"}),
	}
	reg.MustRegister(m.rejected, m.inqueue, m.executing, m.waitDuration, m.nominalLimit)
	return m
}
