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
// than a few per processor; past that it runs where it is, as before, so
// the pool never queues or limits anything (flow control does that). A
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

func (ws *warmStacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isLongRunning(parseRequestInfo(r)) {
		ws.next.ServeHTTP(w, r)
		return
	}
	j := ws.pool.Get().(*warmJob)
	j.w, j.r = w, r
	select {
	case ws.jobs <- j:
	default:
		if ws.workers.Add(1) > ws.max {
			ws.workers.Add(-1)
			j.w, j.r = nil, nil
			ws.pool.Put(j)
			ws.next.ServeHTTP(w, r)
			return
		}
		go ws.work(j)
	}
	v := <-j.done
	ws.pool.Put(j)
	if v != nil {
		// The handler's panic goes on in the request's goroutine, where
		// net/http expects it (http.ErrAbortHandler aborts the stream).
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
