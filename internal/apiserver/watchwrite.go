package apiserver

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// errWatchWriteTimeout ends a watch whose client stopped reading.
var errWatchWriteTimeout = errors.New("watch: write blocked longer than the watch write timeout")

// writeGuard bounds how long one write (or flush) to a watch stream may
// block. A client that stops reading fills the TCP or HTTP/2 window and
// then blocks the handler's write; the storage watch behind it cuts the
// subscription once its bounded buffer stays full, but only the end of
// the handler frees the connection. When a write has blocked for the
// timeout, the guard sets the write deadline in the past: the pending
// write fails (HTTP/1 closes the connection, HTTP/2 resets the stream)
// and the watch ends. The client resumes from the last event it got, as
// after any dropped watch.
//
// A guard is armed only around writes, so an idle watch is never cut.
type writeGuard struct {
	rc      *http.ResponseController
	timeout time.Duration
	timer   *time.Timer

	mu     sync.Mutex
	fired  bool
	closed bool
}

func newWriteGuard(w http.ResponseWriter, timeout time.Duration) *writeGuard {
	g := &writeGuard{rc: http.NewResponseController(w), timeout: timeout}
	g.timer = time.AfterFunc(timeout, g.expire)
	g.timer.Stop()
	return g
}

// expire breaks the blocked write.
func (g *writeGuard) expire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.fired = true
	_ = g.rc.SetWriteDeadline(time.Now().Add(-time.Second))
}

// write writes frame and then, if flusher is not nil, flushes, under the
// timeout. It returns errWatchWriteTimeout once the guard has fired,
// whatever the write returned.
func (g *writeGuard) write(w http.ResponseWriter, frame []byte, flusher http.Flusher) error {
	g.timer.Reset(g.timeout)
	var err error
	if len(frame) > 0 {
		_, err = w.Write(frame)
	}
	if err == nil && flusher != nil {
		flusher.Flush()
	}
	g.timer.Stop()
	g.mu.Lock()
	fired := g.fired
	g.mu.Unlock()
	if fired {
		return errWatchWriteTimeout
	}
	return err
}

// close disarms the guard for good; call it before the handler returns,
// so a late timer cannot touch a connection serving another request.
func (g *writeGuard) close() {
	g.timer.Stop()
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
