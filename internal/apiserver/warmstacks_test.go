package apiserver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goid is the calling goroutine's id, from its stack's header.
func goid() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.Atoi(string(buf[:bytes.IndexByte(buf, ' ')]))
	return id
}

func TestWarmStacks(t *testing.T) {
	var (
		mu      sync.Mutex
		ran     []int // the goroutine each request ran on
		block   = make(chan struct{})
		entered = make(chan struct{})
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ran = append(ran, goid())
		mu.Unlock()
		switch r.URL.Query().Get("do") {
		case "abort":
			panic(http.ErrAbortHandler)
		case "block":
			entered <- struct{}{}
			<-block
		}
		w.WriteHeader(http.StatusTeapot)
	})
	ws := newWarmStacks(h, 1)
	last := func() int {
		mu.Lock()
		defer mu.Unlock()
		return ran[len(ran)-1]
	}
	// serve runs one request and reports where it ran (and whether
	// that was the caller's own goroutine) and what it panicked with.
	serve := func(target string) (code, on int, inline bool, panicked any) {
		rec := httptest.NewRecorder()
		caller := goid()
		func() {
			defer func() { panicked = recover() }()
			ws.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		}()
		return rec.Code, last(), last() == caller, panicked
	}
	// onWorker serves target until it runs on a worker: one that just
	// finished a request is back waiting a moment after its caller
	// returned.
	onWorker := func(target string) (code, on int, panicked any) {
		for range 1000 {
			code, on, inline, panicked := serve(target)
			if !inline {
				return code, on, panicked
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("%s never ran on a worker", target)
		return 0, 0, nil
	}

	// Short requests run on one warm worker, one after another, and
	// their responses reach the caller.
	code, worker, inline, _ := serve("/api/v1/namespaces/default/pods/a")
	if code != http.StatusTeapot || inline {
		t.Fatalf("first request: code %d, ran on the caller's goroutine: %v", code, inline)
	}
	if _, on, _ := onWorker("/api/v1/namespaces/default/pods/b"); on != worker {
		t.Errorf("second request ran on goroutine %d, not the warm worker %d", on, worker)
	}

	// A watch keeps its own goroutine.
	if _, _, inline, _ := serve("/api/v1/pods?watch=true"); !inline {
		t.Errorf("a watch ran on a worker")
	}

	// With the one worker busy, a request runs on a goroutine of its
	// own, so its caller can still give up on it at its deadline.
	var wg sync.WaitGroup
	wg.Go(func() { onWorker("/api/v1/namespaces/default/pods/c?do=block") })
	<-entered
	if code, on, inline, _ := serve("/api/v1/namespaces/default/pods/d"); inline || on == worker || code != http.StatusTeapot {
		t.Errorf("a request with every worker busy: code %d, on the caller's goroutine %v, on the busy worker %v; want its own goroutine",
			code, inline, on == worker)
	}
	close(block)
	wg.Wait()

	// A panic reaches the request's own goroutine, as net/http expects,
	// and the worker goes on.
	if _, on, panicked := onWorker("/api/v1/namespaces/default/pods/e?do=abort"); panicked != http.ErrAbortHandler || on != worker {
		t.Errorf("panic on goroutine %d: the caller recovered %v, want http.ErrAbortHandler from the worker %d", on, panicked, worker)
	}
	if code, on, _ := onWorker("/api/v1/namespaces/default/pods/f"); code != http.StatusTeapot || on != worker {
		t.Errorf("after the panic: code %d on goroutine %d, want the worker %d", code, on, worker)
	}
}
