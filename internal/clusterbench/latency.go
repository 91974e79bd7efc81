// Package clusterbench measures a running cluster against Kubernetes'
// scalability SLOs: the latency of API calls per verb and scope, and the
// startup latency of stateless pods. `skiff bench` runs it against any
// cluster a kubeconfig reaches; the programs under bench/ share its
// latency summaries.
package clusterbench

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Percentile of sorted durations (p in 0..100), by nearest rank: the
// smallest sample that at least p% of the samples do not exceed. With
// few samples the p99 is the maximum, never a middle one.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Summary of a latency sample, in milliseconds.
type Summary struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
	// PerSecond is throughput over the whole sample's wall time.
	PerSecond float64 `json:"per_second,omitempty"`
}

// Summarize sorts d and summarises it; wall, when set, gives PerSecond.
func Summarize(d []time.Duration, wall time.Duration) Summary {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	s := Summary{N: len(d), P50: ms(Percentile(d, 50)), P99: ms(Percentile(d, 99))}
	if len(d) > 0 {
		s.Max = ms(d[len(d)-1])
	}
	if wall > 0 {
		s.PerSecond = float64(len(d)) / wall.Seconds()
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Sample runs call(0..n-1) over conc workers and returns each call's
// latency, in call order, with how many calls failed and the first
// failure.
func Sample(n, conc int, call func(i int) error) (lat []time.Duration, failed int, first error) {
	lat = make([]time.Duration, n)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < max(conc, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				err := call(i)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if failed == 0 {
						first = err
					}
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return lat, failed, first
}
