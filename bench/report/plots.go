package main

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/bench/internal/svgplot"
)

// chartOrder says which charts exist, under which area they appear.
var chartOrder = []struct{ Area, File, Title string }{
	{"apiserver", "report-api-latency.svg", "API latency vs pods stored"},
	{"scheduler", "report-scheduler.svg", "scheduler throughput vs nodes"},
	{"node", "report-pod-startup.svg", "pod startup latency CDF"},
	{"density", "report-density-startup.svg", "density pod startup CDF"},
	{"proxy", "report-proxy.svg", "proxy sync time vs Services"},
	{"proxy", "report-proxy-first-packet.svg", "first-packet (TCP connect) latency vs Services"},
	{"dns", "report-dns.svg", "DNS queries per second"},
}

// numbered returns the number in each key of m matching prefix<N>suffix,
// sorted, with the key's value.
func numbered(flat map[string]float64, re string) (xs, ys []float64) {
	g := glob(re)
	type pt struct{ x, y float64 }
	var pts []pt
	for k, v := range flat {
		m := g.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		x, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		pts = append(pts, pt{x, v})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
	for _, p := range pts {
		xs, ys = append(xs, p.x), append(ys, p.y)
	}
	return xs, ys
}

func samples(v any) []float64 {
	list, _ := v.([]any)
	var out []float64
	for _, e := range list {
		if f, ok := e.(float64); ok {
			out = append(out, f)
		}
	}
	return out
}

func plots(results map[string]*result) map[string][]byte {
	charts := map[string][]byte{}
	if r := results["apiserver"]; r != nil {
		var series []svgplot.Series
		for _, m := range []struct{ key, name string }{{"get_p99_ms", "GET p99"}, {"list_p99_ms", "LIST all p99"}, {"get_p50_ms", "GET p50"}, {"list_p50_ms", "LIST all p50"}} {
			if xs, ys := numbered(r.flat, "latency_by_objects.*."+m.key); len(xs) > 0 {
				series = append(series, svgplot.Series{Name: m.name, X: xs, Y: ys})
			}
		}
		if len(series) > 0 {
			charts["report-api-latency.svg"] = svgplot.Chart{Title: "API latency vs pods stored", XLabel: "pods stored",
				YLabel: "latency (ms, log)", LogY: true, Series: series}.SVG()
		}
	}
	if r := results["scheduler"]; r != nil {
		if xs, ys := numbered(r.flat, "nodes_*_pods_*.pods_per_second"); len(xs) > 0 {
			charts["report-scheduler.svg"] = svgplot.Chart{Title: "Scheduler throughput vs nodes", XLabel: "nodes",
				YLabel: "pods bound per second", Series: []svgplot.Series{
					{Name: "skiff", X: xs, Y: ys},
					{Name: "upstream threshold", X: []float64{5000}, Y: []float64{schedThroughput.Value}},
				}}.SVG()
		}
	}
	if r := results["node"]; r != nil {
		if s := samples(r.Results["pod_startup_samples_ms"]); len(s) > 0 {
			charts["report-pod-startup.svg"] = svgplot.Chart{Title: "Pod startup latency (create → Running), real containers",
				XLabel: "ms", YLabel: "% of pods", Step: true, Series: []svgplot.Series{svgplot.CDF("steady phase", s)}}.SVG()
		}
	}
	if r := results["density"]; r != nil {
		var series []svgplot.Series
		var keys []string
		for k := range r.Results {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
		for _, k := range keys {
			m, _ := r.Results[k].(map[string]any)
			if s := samples(m["pod_startup_samples_ms"]); len(s) > 0 {
				series = append(series, svgplot.CDF(strings.ReplaceAll(k, "_", " "), s))
			}
		}
		if len(series) > 0 {
			charts["report-density-startup.svg"] = svgplot.Chart{Title: "Density run: pod startup (first seen → Running)",
				XLabel: "ms (log)", YLabel: "% of pods", Step: true, LogX: true, Series: series}.SVG()
		}
	}
	if r := results["proxy"]; r != nil {
		var series []svgplot.Series
		for _, m := range []struct{ key, name string }{{"full_sync_ms", "full sync"}, {"incremental_sync.p50_ms", "incremental p50"}, {"endpoint_to_rule.p99_ms", "endpoint→rule p99"}} {
			if xs, ys := numbered(r.flat, "services_*."+m.key); len(xs) > 0 {
				series = append(series, svgplot.Series{Name: m.name, X: xs, Y: ys})
			}
		}
		if len(series) > 0 {
			charts["report-proxy.svg"] = svgplot.Chart{Title: "nftables sync time vs Services (×10 endpoints)", XLabel: "Services (log)",
				YLabel: "ms (log)", LogX: true, LogY: true, Series: series}.SVG()
		}
	}
	if r := results["proxy"]; r != nil {
		var series []svgplot.Series
		// p50 only: the p99s, ten times larger and noisy on a shared
		// machine, would flatten the lines the chart is for.
		for _, m := range []struct{ key, name string }{{"direct.p50_us", "direct to pod IP p50"},
			{"first_service.p50_us", "first Service's ClusterIP p50"}, {"last_service.p50_us", "last Service's ClusterIP p50"}} {
			if xs, ys := numbered(r.flat, "services_*.first_packet."+m.key); len(xs) > 0 {
				series = append(series, svgplot.Series{Name: m.name, X: xs, Y: ys})
			}
		}
		if len(series) > 0 {
			charts["report-proxy-first-packet.svg"] = svgplot.Chart{Title: "TCP connect (first packet) through the proxy vs Services", XLabel: "Services (log)",
				YLabel: "µs (p50)", LogX: true, Series: series}.SVG()
		}
	}
	if r := results["dns"]; r != nil {
		var cats []string
		var ys []float64
		var keys []string
		for k := range r.flat {
			if strings.HasSuffix(k, ".per_second") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			cats = append(cats, strings.TrimSuffix(k, ".per_second"))
			ys = append(ys, r.flat[k])
		}
		if len(cats) > 0 {
			anchorY := make([]float64, len(cats))
			for i, c := range cats {
				anchorY[i] = math.NaN()
				if strings.HasPrefix(c, "cluster_A") {
					anchorY[i] = corednsQPS.Value
				}
			}
			charts["report-dns.svg"] = svgplot.Bar{Title: "Cluster DNS queries per second", YLabel: "queries/s",
				Categories: cats, Series: []svgplot.Series{{Name: "skiff", Y: ys}, {Name: "CoreDNS (2 vCPU)", Y: anchorY}}}.SVG()
		}
	}
	return charts
}
