package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

// profiler saves Go profiles of the server (its /debug/pprof/, which
// --profiling serves) and of the hollow-nodes process (its
// --profiling-address) into dir, for `go tool pprof`.
type profiler struct {
	dir       string
	cs        kubernetes.Interface
	hollowURL string // http://127.0.0.1:port
}

// cpu takes a CPU profile of both processes at once, over d.
func (p *profiler) cpu(ctx context.Context, tag string, d time.Duration) {
	if p == nil {
		return
	}
	secs := fmt.Sprint(int(d.Seconds()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.save(ctx, "hollow-cpu-"+tag, "/debug/pprof/profile?seconds="+secs, true)
	}()
	p.save(ctx, "server-cpu-"+tag, "/debug/pprof/profile?seconds="+secs, false)
	<-done
}

// trace saves the server's execution trace over d (for go tool trace).
func (p *profiler) trace(ctx context.Context, tag string, d time.Duration) {
	if p == nil {
		return
	}
	p.save(ctx, "server-trace-"+tag, fmt.Sprintf("/debug/pprof/trace?seconds=%d", int(d.Seconds())), false)
}

// heap saves both processes' in-use heap.
func (p *profiler) heap(ctx context.Context, tag string) {
	if p == nil {
		return
	}
	p.save(ctx, "server-heap-"+tag, "/debug/pprof/heap?gc=1", false)
	p.save(ctx, "hollow-heap-"+tag, "/debug/pprof/heap?gc=1", true)
}

func (p *profiler) save(ctx context.Context, name, path string, hollow bool) {
	var data []byte
	var err error
	if hollow {
		data, err = benchutil.HTTPGet(ctx, p.hollowURL+path)
	} else {
		data, err = benchutil.ServerProfile(ctx, p.cs, path)
	}
	if f := benchutil.SaveProfile(p.dir, name, data, err); f != "" {
		fmt.Printf("  profile saved: %s\n", f)
	}
}

// monitor prints the server's and hollow nodes' RSS and CPU (in cores,
// with the bench's own and the whole machine's) every interval and,
// with a profiler, saves the server's heap and goroutines each time its
// RSS first passes another step (2 GiB, 4 GiB, ...), so a run whose
// memory grows leaves the profiles that say why. Past limit it cancels
// the run: on a machine without swap a runaway server would stall
// everything else.
//
// Each line also gives the window's tails from the server's metrics (see
// windowTails): a run's overall p99 says how bad the worst moments were,
// the lines say when they came and what the server was doing then.
func monitor(ctx context.Context, cancel context.CancelFunc, p *profiler, src metricsSource, serverPID, hollowPID int, limit int64) {
	const step = 2 << 30
	const interval = 30 * time.Second
	next := int64(step)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	pids := []int{serverPID, hollowPID, os.Getpid()}
	last := make([]int64, len(pids))
	for i, pid := range pids {
		last[i] = benchutil.CPUTicks(pid)
	}
	lastBusy, lastTotal := benchutil.MachineCPUTicks()
	tails := &windowTails{src: src}
	tails.next(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cores := make([]float64, len(pids))
		for i, pid := range pids {
			t := benchutil.CPUTicks(pid)
			cores[i], last[i] = float64(t-last[i])/100/interval.Seconds(), t
		}
		busy, total := benchutil.MachineCPUTicks()
		machine := 0.0
		if total > lastTotal {
			machine = 100 * float64(busy-lastBusy) / float64(total-lastTotal)
		}
		lastBusy, lastTotal = busy, total
		rss := benchutil.RSSBytes(serverPID)
		fmt.Printf("  [monitor] server RSS %.2f GiB, hollow RSS %.2f GiB; CPU cores server %.2f, hollow %.2f, bench %.2f; machine %.0f%% busy\n",
			float64(rss)/(1<<30), float64(benchutil.RSSBytes(hollowPID))/(1<<30), cores[0], cores[1], cores[2], machine)
		if line := tails.next(ctx); line != "" {
			fmt.Printf("  [monitor] %s\n", line)
		}
		if rss >= next {
			tag := fmt.Sprintf("rss%dg", rss>>30)
			if p != nil {
				p.save(ctx, "server-heap-"+tag, "/debug/pprof/heap", false)
				p.save(ctx, "server-goroutine-"+tag, "/debug/pprof/goroutine", false)
			}
			next = (rss/step + 1) * step
		}
		if limit > 0 && rss > limit {
			fmt.Fprintf(os.Stderr, "  [monitor] server RSS %.2f GiB passed the %.0f GiB limit: stopping the run\n",
				float64(rss)/(1<<30), float64(limit)/(1<<30))
			cancel()
			return
		}
	}
}
