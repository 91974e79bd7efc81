package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
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
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, p.hollowURL+path, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				data, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}
	} else {
		u, q, _ := strings.Cut(path, "?")
		r := p.cs.CoreV1().RESTClient().Get().AbsPath(u).Timeout(5 * time.Minute)
		if k, v, ok := strings.Cut(q, "="); ok {
			r = r.Param(k, v)
		}
		data, err = r.DoRaw(ctx)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "  profile %s: %v\n", name, err)
		return
	}
	f := filepath.Join(p.dir, name+".pprof")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "  profile %s: %v\n", name, err)
		return
	}
	fmt.Printf("  profile saved: %s\n", f)
}
