package main

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// histKey is one series of a latency histogram: verb and resource for
// apiserver_request_duration_seconds, operation and type for
// etcd_request_duration_seconds.
type histKey struct{ verb, resource string }

// hist is a cumulative histogram: upper bound → count.
type hist map[float64]float64

// histograms are the latency series of one /metrics scrape.
type histograms struct {
	api  map[histKey]hist // apiserver_request_duration_seconds
	etcd map[histKey]hist // etcd_request_duration_seconds
	// queue: apiserver_flowcontrol_request_wait_duration_seconds of the
	// requests that ran, by priority level and flow schema.
	queue map[histKey]hist
}

// scrape reads the API server's request and etcd latency histograms from
// /metrics.
func scrape(ctx context.Context, cs kubernetes.Interface) (histograms, error) {
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return histograms{}, err
	}
	return histograms{
		api: parseHistograms(body, "apiserver_request_duration_seconds", func(l map[string]string) histKey {
			res := l["resource"]
			if sub := l["subresource"]; sub != "" && res != "" {
				res += "/" + sub
			}
			return histKey{l["verb"], res}
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

// parseHistograms reads the bucket lines of the Prometheus text format
// for the histogram metric, keyed by key(labels); series whose key has no
// resource are skipped.
func parseHistograms(body []byte, metric string, key func(labels map[string]string) histKey) map[histKey]hist {
	out := map[histKey]hist{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := metric + "_bucket{"
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
		le := math.Inf(1)
		if labels["le"] != "+Inf" {
			if le, err = strconv.ParseFloat(labels["le"], 64); err != nil {
				continue
			}
		}
		k := key(labels)
		if k.resource == "" {
			continue
		}
		if out[k] == nil {
			out[k] = hist{}
		}
		out[k][le] += val
	}
	return out
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
		var bounds []float64
		for le := range h {
			bounds = append(bounds, le)
		}
		sort.Float64s(bounds)
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
