// Command report turns bench/results/*.json into bench/REPORT.md: one
// table per area comparing each figure with a published anchor (anchors.go),
// SVG charts beside it (bench/report-*.svg), and bench/results.json, every
// area's results in one file, each with its machine and commit. The output
// depends only on the JSON, so regenerating it from the same results
// changes nothing.
//
//	go run ./bench/report [-results bench/results] [-out bench]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// result is one benchmark program's JSON (benchutil.Report).
type result struct {
	Name    string         `json:"name"`
	Time    time.Time      `json:"time"`
	Commit  string         `json:"commit"`
	Machine map[string]any `json:"machine"`
	Results map[string]any `json:"results"`
	// flat maps dotted JSON paths to numbers.
	flat map[string]float64
}

func main() {
	dir := flag.String("results", "bench/results", "directory of benchmark JSON")
	out := flag.String("out", "bench", "directory for REPORT.md and the SVG charts")
	flag.Parse()
	results, err := load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	md, charts := render(results)
	for name, svg := range charts {
		if err := os.WriteFile(filepath.Join(*out, name), svg, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
	path := filepath.Join(*out, "REPORT.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	all, err := combined(results)
	if err == nil {
		err = os.WriteFile(filepath.Join(*out, "results.json"), all, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s, results.json and %d charts from %d result files\n", path, len(charts), len(results))
}

// combined is every area's result in one JSON document, keyed by area
// (encoding/json sorts the keys, so the same results give the same bytes).
func combined(results map[string]*result) ([]byte, error) {
	data, err := json.MarshalIndent(map[string]any{
		"source": "bench/results/*.json, one file per area; regenerate with go run ./bench/report",
		"areas":  results,
	}, "", "  ")
	return append(data, '\n'), err
}

func load(dir string) (map[string]*result, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]*result{}
	for _, f := range files {
		if filepath.Base(f) == "results.json" {
			continue // the combined output, when -out is the results directory
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Name == "" {
			r.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		r.flat = map[string]float64{}
		flatten("", r.Results, r.flat)
		out[r.Name] = &r
	}
	return out, nil
}

func flatten(prefix string, v any, into map[string]float64) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, into)
		}
	case float64:
		into[prefix] = x
	}
}

// glob compiles a key pattern: * matches any run of characters.
func glob(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, "(.+?)") + "$")
}

func anchorFor(key string) (anchor, bool) {
	for _, a := range anchors {
		if glob(a.Key).MatchString(key) {
			return a.Anchor, true
		}
	}
	return anchor{}, false
}

// naturalLess orders "nodes_100" before "nodes_1000" and "c1" before "c16".
func naturalLess(a, b string) bool {
	re := regexp.MustCompile(`\d+|\D+`)
	pa, pb := re.FindAllString(a, -1), re.FindAllString(b, -1)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

// toBase converts a value in unit to the anchors' base unit.
func toBase(v float64, unit string) float64 {
	switch unit {
	case "ns":
		return v / 1e6
	case "us":
		return v / 1000
	case "s":
		return v * 1000
	case "kib":
		return v * 1024
	}
	return v
}

// format prints a base-unit value for a row of the given unit.
func format(v float64, unit string) string {
	switch unit {
	case "ms", "ns", "s":
		switch {
		case v >= 1000:
			return fmt.Sprintf("%.2f s", v/1000)
		case v >= 100:
			return fmt.Sprintf("%.0f ms", v)
		case v >= 1:
			return fmt.Sprintf("%.1f ms", v)
		default:
			return fmt.Sprintf("%.2f ms", v)
		}
	case "bytes", "kib":
		if math.Abs(v) >= 1<<20 { // a delta may be negative
			return fmt.Sprintf("%.1f MiB", v/(1<<20))
		}
		return fmt.Sprintf("%.0f KiB", v/1024)
	case "/s":
		return fmt.Sprintf("%s/s", thousands(v))
	case "mcores":
		return fmt.Sprintf("%.2f millicores", v)
	case "cores":
		return fmt.Sprintf("%.2f cores", v)
	case "us":
		if v*1000 >= 100 {
			return fmt.Sprintf("%.0f µs", v*1000)
		}
		return fmt.Sprintf("%.1f µs", v*1000)
	case "ratio":
		return fmt.Sprintf("%.3f", v)
	}
	return thousands(v)
}

func thousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ratio says how ours compares with the anchor, e.g. "83× lower (better)".
func ratio(ours float64, a anchor) string {
	if a.Value == 0 || ours == 0 {
		return ""
	}
	r := ours / a.Value
	dir, good := "higher", a.Better == higher
	if r < 1 {
		r, dir, good = 1/r, "lower", a.Better == lower
	}
	verdict := "worse"
	if good {
		verdict = "better"
	}
	if r < 1.05 {
		return "≈ same"
	}
	n := strconv.FormatFloat(r, 'g', 3, 64)
	if r >= 100 {
		n = thousands(r)
	}
	return fmt.Sprintf("%s× %s (%s)", n, dir, verdict)
}

func machine(r *result) string {
	cores, _ := r.Machine["cores"].(float64)
	mem, _ := r.Machine["memory_bytes"].(float64)
	goV, _ := r.Machine["go"].(string)
	speed := ""
	if ms, ok := r.Machine["calibration_ms"].(float64); ok {
		// benchutil.Calibrate: the machine's speed on the day.
		speed = fmt.Sprintf("; calibration %.0f ms (lower is faster)", ms)
	}
	return fmt.Sprintf("%d cores, %.1f GiB memory, %s%s; commit `%s`; run %s",
		int(cores), mem/(1<<30), goV, speed, r.Commit, r.Time.UTC().Format("2006-01-02 15:04 UTC"))
}

func render(results map[string]*result) (string, map[string][]byte) {
	var b strings.Builder
	charts := plots(results)
	b.WriteString("# skiff benchmark report\n\n")
	b.WriteString("Generated by `go run ./bench/report` from `bench/results/*.json`, which it also gathers into `bench/results.json` (`make bench` runs every benchmark, then this). ")
	b.WriteString("Each figure is compared with a published anchor where one exists; the ratio is ours ÷ anchor, with whether that is better or worse. ")
	b.WriteString("SLO anchors are upper bounds for a 5,000-node cluster, not measurements: meeting them by a wide margin on one machine says little about scale. ")
	b.WriteString("Rows whose key is absent from the results say \"not run\"; no figure here is estimated. ")
	b.WriteString("The machine is shared and its speed varies from day to day; runs since 11-29 record a calibration (the time of one core's fixed JSON work, `benchutil.Calibrate`) beside the machine, to compare days by.\n\n")
	for _, area := range areas {
		fmt.Fprintf(&b, "## %s\n\n", area.Title)
		r := results[area.Name]
		if r == nil {
			fmt.Fprintf(&b, "not run (no `bench/results/%s.json`). %s\n\n", area.Name, area.Intro)
			continue
		}
		fmt.Fprintf(&b, "%s\n\nMachine: %s.\n\n", area.Intro, machine(r))
		b.WriteString("| metric | ours | anchor | source | ratio |\n|---|---|---|---|---|\n")
		var notRun []string
		for _, rw := range area.Rows {
			re := glob(rw.Key)
			var keys []string
			for k := range r.flat {
				if re.MatchString(k) {
					keys = append(keys, k)
				}
			}
			sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
			if len(keys) == 0 {
				notRun = append(notRun, "`"+rw.Key+"`")
				continue
			}
			for _, k := range keys {
				label := rw.Label
				for i, m := range re.FindStringSubmatch(k)[1:] {
					label = strings.ReplaceAll(label, fmt.Sprintf("{%d}", i+1), strings.ReplaceAll(m, "_", " "))
				}
				v := toBase(r.flat[k], rw.Unit)
				a, ok := anchorFor(area.Name + "/" + k)
				anchorText, source, rt := "—", "anchor: none published", ""
				if ok && a.Source != "" {
					anchorText = a.Text
					source = fmt.Sprintf("[%s](%s)", a.Source, a.URL)
					if a.Note != "" {
						source += "; " + a.Note
					}
					rt = ratio(v, a)
				} else if ok && a.Note != "" {
					source = a.Note
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", label, format(v, rw.Unit), anchorText, source, rt)
			}
		}
		b.WriteString("\n")
		if len(notRun) > 0 {
			fmt.Fprintf(&b, "Not run (absent from the results): %s.\n\n", strings.Join(notRun, ", "))
		}
		for _, c := range chartOrder {
			if c.Area == area.Name {
				if _, ok := charts[c.File]; ok {
					fmt.Fprintf(&b, "![%s](%s)\n\n", c.Title, c.File)
				}
			}
		}
	}
	return b.String(), charts
}
