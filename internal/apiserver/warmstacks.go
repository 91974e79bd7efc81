package apiserver

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// warmStacks runs short requests on a few long-lived goroutines whose
// stacks have already grown, instead of on the goroutine the HTTP/2
// server starts for each request.
//
// A goroutine starts with a small stack, and a write's handler needs a
// deep one: the field manager's comparison alone recurses through
// structured-merge-diff's walkers, several frames per level of the
// object. Each time the stack runs out, the runtime allocates one twice
// as large and copies the old one over, unwinding every frame to adjust
// its pointers; a fresh goroutine does that two or three times per
// request. At 5,000 idle nodes (500 Lease updates a second) that was 6%
// of the server's CPU. gRPC's servers offer the same remedy
// (NumStreamWorkers) for the same cost.
//
// A request takes a waiting worker, or starts one while there are fewer
// than a few per processor; past that it runs on a goroutine of its own,
// as it would without the pool, so the pool never queues or limits
// anything (flow control does that). The request's own goroutine waits
// for the worker, or for the request's deadline (timeout.go). A
// worker idle for warmIdle ends. The workers' stacks shrink back when
// the garbage collector finds them mostly unused, and grow once again on
// their next request.
type warmStacks struct {
	next    http.Handler
	jobs    chan *warmJob
	max     int32
	workers atomic.Int32
	pool    sync.Pool // *warmJob
}

// warmIdle is how long a worker waits for a request before it ends.
const warmIdle = 10 * time.Second

type warmJob struct {
	w    http.ResponseWriter
	r    *http.Request
	done chan any // nil, or what the handler panicked with
}

// newWarmStacks serves next's short requests on up to max warm
// workers; watches and the other long-running requests, which would
// hold a worker for minutes, keep their own goroutine.
func newWarmStacks(next http.Handler, max int) *warmStacks {
	ws := &warmStacks{next: next, jobs: make(chan *warmJob), max: int32(max)}
	ws.pool.New = func() any { return &warmJob{done: make(chan any, 1)} }
	return ws
}

// ServeHTTP serves a short request on a warm worker and waits for it;
// long-running requests keep their own goroutine. The server's handler
// chain uses start instead, through the request timeout (timeout.go).
func (ws *warmStacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isLongRunning(parseRequestInfo(r)) {
		ws.next.ServeHTTP(w, r)
		return
	}
	j := ws.start(w, r)
	ws.wait(j)
}

// start serves (w, r) on a waiting worker, or starts one while there
// are fewer than max; past that, on a goroutine of its own. The caller
// receives what it panicked with (or nil) from j.done, then hands j back
// with ws.done; a caller that stops waiting (the request timed out)
// just drops j.
func (ws *warmStacks) start(w http.ResponseWriter, r *http.Request) *warmJob {
	j := ws.pool.Get().(*warmJob)
	j.w, j.r = w, r
	select {
	case ws.jobs <- j:
	default:
		if ws.workers.Add(1) > ws.max {
			ws.workers.Add(-1)
			go func() { j.done <- ws.serve(j) }()
			return j
		}
		go ws.work(j)
	}
	return j
}

// wait waits for j to be served and gives it back.
func (ws *warmStacks) wait(j *warmJob) {
	ws.done(j, <-j.done)
}

// done gives j back, and continues the handler's panic v, if any, in
// the request's goroutine, where net/http expects it
// (http.ErrAbortHandler aborts the stream).
func (ws *warmStacks) done(j *warmJob, v any) {
	ws.pool.Put(j)
	if v != nil {
		panic(v)
	}
}

// work serves j, then whatever requests come while it is warm.
func (ws *warmStacks) work(j *warmJob) {
	defer ws.workers.Add(-1)
	idle := time.NewTimer(warmIdle)
	defer idle.Stop()
	for {
		j.done <- ws.serve(j)
		idle.Reset(warmIdle)
		select {
		case j = <-ws.jobs:
		case <-idle.C:
			return
		}
	}
}

func (ws *warmStacks) serve(j *warmJob) (panicked any) {
	w, r := j.w, j.r
	j.w, j.r = nil, nil
	defer func() { panicked = recover() }()
	ws.next.ServeHTTP(w, r)
	return nil
}
