package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

// histKey is one series of a latency histogram: verb and resource for
// apiserver_request_duration_seconds, operation and type for
// etcd_request_duration_seconds.
type histKey struct{ verb, resource string }

// hist is a cumulative histogram: upper bound → count.
type hist map[float64]float64

// bounds are the histogram's bucket bounds, in order.
func (h hist) bounds() []float64 {
	b := make([]float64, 0, len(h))
	for le := range h {
		b = append(b, le)
	}
	sort.Float64s(b)
	return b
}

// histograms are the latency series of one /metrics scrape.
type histograms struct {
	api  map[histKey]hist // apiserver_request_duration_seconds
	etcd map[histKey]hist // etcd_request_duration_seconds
	// queue: apiserver_flowcontrol_request_wait_duration_seconds of the
	// requests that ran, by priority level and flow schema.
	queue map[histKey]hist
	// sched: the Go scheduler's latency (runnable to running) in the
	// server, under the key {"go", "sched"}.
	sched map[histKey]hist
	// gcCPU and cpu: the server's Go runtime's estimate of the CPU seconds
	// its GC and everything took since it started.
	gcCPU, cpu float64
	// disk: the embedded etcd's disk latencies, {"wal", "fsync"} and
	// {"backend", "commit"}; empty when its /metrics is not reachable.
	disk map[histKey]hist
	// failed counts the API's answers that are not the client's fault
	// and not success, 429 and 5xx (504: past the request timeout), by
	// "code verb resource" (apiserver_request_total).
	failed map[string]float64
}

// metricsSource is where a run's metrics come from: the API server's
// /metrics through cs, and the embedded etcd's own at etcdURL.
type metricsSource struct {
	cs      kubernetes.Interface
	etcdURL string
}

// scrape reads the API server's request and etcd latency histograms from
// /metrics, and etcd's disk latencies from its own.
func scrape(ctx context.Context, src metricsSource) (histograms, error) {
	body, err := src.cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return histograms{}, err
	}
	disk := map[histKey]hist{}
	if src.etcdURL != "" {
		if etcd, err := benchutil.HTTPGet(ctx, src.etcdURL+"/metrics"); err == nil {
			for _, m := range []histKey{{"wal", "fsync"}, {"backend", "commit"}} {
				for k, h := range parseHistograms(etcd, "etcd_disk_"+m.verb+"_"+m.resource+"_duration_seconds", func(map[string]string) histKey { return m }) {
					disk[k] = h
				}
			}
		}
	}
	return histograms{
		disk: disk,
		sched: parseHistograms(body, "go_sched_latencies_seconds", func(map[string]string) histKey {
			return histKey{"go", "sched"}
		}),
		failed: parseCounters(body, "apiserver_request_total", failedKey),
		gcCPU:  parseCounter(body, "go_cpu_classes_gc_total_cpu_seconds_total"),
		cpu:    parseCounter(body, "go_cpu_classes_total_cpu_seconds_total"),
		api: parseHistograms(body, "apiserver_request_duration_seconds", func(l map[string]string) histKey {
			return histKey{l["verb"], resourceLabel(l)}
		}),
		etcd: parseHistograms(body, "etcd_request_duration_seconds", func(l map[string]string) histKey {
			return histKey{l["operation"], l["type"]}
		}),
		queue: parseHistograms(body, "apiserver_flowcontrol_request_wait_duration_seconds", func(l map[string]string) histKey {
			if l["execute"] != "true" {
				return histKey{}
			}
			return histKey{l["priority_level"], l["flow_schema"]}
		}),
	}, nil
}

// failedKey keys apiserver_request_total's 429 and 5xx series by "code
// verb resource", and skips the others.
func failedKey(l map[string]string) string {
	if c := l["code"]; c != "429" && !strings.HasPrefix(c, "5") {
		return ""
	}
	return l["code"] + " " + l["verb"] + " " + resourceLabel(l)
}

// resourceLabel is a series' resource, with its subresource after a
// slash.
func resourceLabel(l map[string]string) string {
	res := l["resource"]
	if sub := l["subresource"]; sub != "" && res != "" {
		res += "/" + sub
	}
	return res
}

// metricLines calls fn with the labels and value of each sample line of
// the Prometheus text format whose name is exactly name.
func metricLines(body []byte, name string, fn func(labels map[string]string, val float64)) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := name + "{"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[len(prefix):end], ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		val, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			continue
		}
		fn(labels, val)
	}
}

// parseCounters sums a labelled counter's series by key(labels); series
// keyed "" are skipped.
func parseCounters(body []byte, metric string, key func(labels map[string]string) string) map[string]float64 {
	out := map[string]float64{}
	metricLines(body, metric, func(l map[string]string, val float64) {
		if k := key(l); k != "" {
			out[k] += val
		}
	})
	return out
}

// increases is after−before of each counter that grew.
func increases(before, after map[string]float64) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := int(v - before[k]); d > 0 {
			out[k] = d
		}
	}
	return out
}

// parseHistograms reads the bucket lines of the Prometheus text format
// for the histogram metric, keyed by key(labels); series whose key has no
// resource are skipped.
func parseHistograms(body []byte, metric string, key func(labels map[string]string) histKey) map[histKey]hist {
	out := map[histKey]hist{}
	metricLines(body, metric+"_bucket", func(labels map[string]string, val float64) {
		le := math.Inf(1)
		if labels["le"] != "+Inf" {
			var err error
			if le, err = strconv.ParseFloat(labels["le"], 64); err != nil {
				return
			}
		}
		k := key(labels)
		if k.resource == "" {
			return
		}
		if out[k] == nil {
			out[k] = hist{}
		}
		out[k][le] += val
	})
	return out
}

// parseCounter reads an unlabelled counter or gauge from the Prometheus
// text format; 0 when absent.
func parseCounter(body []byte, metric string) float64 {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), metric+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// windowTails follows the server's metrics from one call of next to the
// next: the p99 of the heartbeat writes (open-loop, so they see every
// stall, where controllers' own requests slow down with the server and
// sample stalls less), of etcd's Lease updates, and of the Go scheduler's
// latency, and the GC's share of the server's CPU.
type windowTails struct {
	src  metricsSource
	prev *histograms
}

// next scrapes and describes the window since the last call; "" on the
// first call or when the scrape fails.
func (w *windowTails) next(ctx context.Context) string {
	h, err := scrape(ctx, w.src)
	if err != nil {
		return ""
	}
	prev := w.prev
	w.prev = &h
	if prev == nil {
		return ""
	}
	api := latencies(prev.api, h.api)
	etcd := latencies(prev.etcd, h.etcd)
	sched := latencies(prev.sched, h.sched)["go sched"]
	gc := 0.0
	if d := h.cpu - prev.cpu; d > 0 {
		gc = 100 * (h.gcCPU - prev.gcCPU) / d
	}
	return fmt.Sprintf("p99 ms: update leases %.0f (%d), nodes/status %.0f, pods/status %.0f, etcd update leases %.0f; go scheduler p99 %.1f ms; GC %.0f%% of server CPU; etcd ≥ 128 ms: WAL fsyncs %s, backend commits %s",
		api["update leases"].P99, api["update leases"].Count, api["update nodes/status"].P99, api["update pods/status"].P99,
		etcd["update leases.coordination.k8s.io"].P99, sched.P99, gc,
		slowDisk(prev.disk, h.disk, histKey{"wal", "fsync"}), slowDisk(prev.disk, h.disk, histKey{"backend", "commit"}))
}

// slowDiskSeconds is where an etcd disk latency counts as slow (a
// bucket bound of etcd's histograms): the monitor's lines and the phase
// summaries ("_over_128ms") count the fsyncs and commits above it.
const slowDiskSeconds = 0.128

// slowDisk says how many of etcd's k (its WAL fsyncs or its backend
// commits, which hold the lock every write's apply takes) took 128 ms or
// more between before and after, and at most how long the slowest took.
func slowDisk(before, after map[histKey]hist, k histKey) string {
	return fmt.Sprintf("%d (max ≤ %s)", slowerThan(before[k], after[k], slowDiskSeconds), maxBound(before[k], after[k]))
}

// diskSummary is etcd's WAL fsync and backend commit latency over a
// phase, with how many took 128 ms or more: a slow fsync holds up every
// write behind it, so the API's worst windows line up with them.
func diskSummary(before, after map[histKey]hist) map[string]any {
	out := map[string]any{}
	for _, k := range []histKey{{"wal", "fsync"}, {"backend", "commit"}} {
		if _, ok := after[k]; !ok {
			continue
		}
		name := k.verb + "_" + k.resource
		out[name] = latencies(map[histKey]hist{k: before[k]}, map[histKey]hist{k: after[k]})[k.verb+" "+k.resource]
		out[name+"_over_128ms"] = slowerThan(before[k], after[k], slowDiskSeconds)
		out[name+"_max_bound"] = maxBound(before[k], after[k])
	}
	return out
}

// slowerThan counts the observations of after−before above bound (a
// bucket bound of the histogram).
func slowerThan(before, after hist, bound float64) int {
	return int(after[math.Inf(1)] - before[math.Inf(1)] - (after[bound] - before[bound]))
}

// maxBound is the upper bound of the highest bucket after−before has an
// observation in, so the window's slowest was at most that; "-" when the
// window has none.
func maxBound(before, after hist) string {
	top, below := "-", 0.0
	for _, le := range after.bounds() {
		c := after[le] - before[le]
		if c > below {
			top = time.Duration(le * float64(time.Second)).String()
			if math.IsInf(le, 1) {
				top = "∞"
			}
		}
		below = c
	}
	return top
}

type histSummary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
}

// latencies summarises after−before per "verb resource", estimating
// percentiles by linear interpolation inside the bucket, as Prometheus'
// histogram_quantile does. A p99 in the +Inf bucket is reported as the
// largest finite bound.
func latencies(before, after map[histKey]hist) map[string]histSummary {
	out := map[string]histSummary{}
	for k, h := range after {
		bounds := h.bounds()
		counts := make([]float64, len(bounds))
		for i, le := range bounds {
			counts[i] = h[le] - before[k][le]
		}
		total := counts[len(counts)-1]
		if total < 1 {
			continue
		}
		q := func(p float64) float64 {
			rank := p * total
			prevLE, prevC := 0.0, 0.0
			for i, le := range bounds {
				if counts[i] >= rank {
					if math.IsInf(le, 1) {
						return prevLE * 1000
					}
					if counts[i] == prevC {
						return le * 1000
					}
					return (prevLE + (le-prevLE)*(rank-prevC)/(counts[i]-prevC)) * 1000
				}
				prevLE, prevC = le, counts[i]
			}
			return prevLE * 1000
		}
		out[k.verb+" "+k.resource] = histSummary{Count: int(total), P50: round(q(0.5)), P99: round(q(0.99))}
	}
	return out
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }
