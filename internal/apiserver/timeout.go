package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Every request but the long-running ones (watches, and the proxy, exec,
// attach, log and portforward subresources) has a deadline, as upstream's
// --request-timeout gives it: the server's RequestTimeout (60 s), or the
// request's own ?timeout= when that is shorter (client-go sends its
// client timeout there; 0 means none of its own). A timeout that does not
// parse as a Go duration is 400. Storage calls carry the deadline, so a
// request stuck on etcd ends with it, and flow control waits no longer
// than it for a seat.
//
// At the deadline the client is answered at once, whatever the handler
// is doing: 504 with reason Timeout, "request did not complete within
// the allotted timeout", if nothing has been written yet; if the response
// has begun (a large list streaming), the stream is aborted (an HTTP/2
// reset or a closed connection), since a status can no longer be sent.
// The handler goes on in the background until it notices the deadline;
// whatever it writes after that is dropped. Like upstream's, a write that
// times out may still be stored.

// errRequestTimeout is upstream's answer at the deadline.
var errRequestTimeout = apierrors.NewTimeoutError("request did not complete within the allotted timeout", 0)

// requestTimeoutParam reads ?timeout=; ok is false when absent.
func requestTimeoutParam(r *http.Request) (d time.Duration, ok bool, err error) {
	if !strings.Contains(r.URL.RawQuery, "timeout=") {
		return 0, false, nil
	}
	v := r.URL.Query().Get("timeout")
	if v == "" {
		return 0, false, nil
	}
	d, err = time.ParseDuration(v)
	if err != nil {
		return 0, false, apierrors.NewBadRequest(fmt.Sprintf("invalid timeout specified in the request URL - %v", err))
	}
	return d, true, nil
}

// withRequestTimeout runs each short request on ws with its deadline,
// and answers it at the deadline if the handler has not.
func (s *Server) withRequestTimeout(ws *warmStacks) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isLongRunning(parseRequestInfo(r)) {
			ws.next.ServeHTTP(w, r)
			return
		}
		timeout := s.cfg.RequestTimeout
		user, ok, err := requestTimeoutParam(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if ok && user > 0 && user < timeout {
			timeout = user
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		tw := &timeoutWriter{w: w}
		j := ws.start(tw, r)
		var v any
		select {
		case v = <-j.done:
		case <-ctx.Done():
			select {
			case v = <-j.done: // it finished as the deadline passed
			default:
				// j is the handler's until it ends: it is not given back.
				if !tw.timeout(func() { s.writeError(w, r, errRequestTimeout) }) {
					panic(http.ErrAbortHandler)
				}
				return
			}
		}
		if v == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The handler gave up at the deadline without answering
			// (flow control stops waiting for a seat then).
			tw.timeout(func() { s.writeError(w, r, errRequestTimeout) })
		}
		ws.done(j, v)
	})
}

// timeoutWriter is the handler's view of the response until its request
// times out; after that every write fails with http.ErrHandlerTimeout.
type timeoutWriter struct {
	w           http.ResponseWriter
	mu          sync.Mutex
	wroteHeader bool
	timedOut    bool
}

// timeout ends the handler's use of the response. If the handler has not
// begun it, answer writes the answer and timeout reports true; else the
// response is left as it is and timeout reports false.
func (tw *timeoutWriter) timeout(answer func()) bool {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return true
	}
	tw.timedOut = true
	if tw.wroteHeader {
		return false
	}
	tw.wroteHeader = true
	answer()
	return true
}

// Header is the response's header until the request times out; after
// that a throwaway one. (Upstream's has the same limit: a handler that
// holds on to the header and changes it as the deadline passes races with
// the answer.)
func (tw *timeoutWriter) Header() http.Header {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return http.Header{}
	}
	return tw.w.Header()
}

func (tw *timeoutWriter) WriteHeader(code int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.wroteHeader {
		return
	}
	tw.wroteHeader = true
	tw.w.WriteHeader(code)
}

func (tw *timeoutWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return 0, http.ErrHandlerTimeout
	}
	tw.wroteHeader = true
	return tw.w.Write(p)
}

// FlushError flushes what the handler wrote, for http.ResponseController.
func (tw *timeoutWriter) FlushError() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return http.ErrHandlerTimeout
	}
	return http.NewResponseController(tw.w).Flush()
}

func (tw *timeoutWriter) Flush() { _ = tw.FlushError() }
