package apiserver

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWriteGuardCutsClientThatStopsReading streams to a client that
// never reads, over HTTP/1.1 and HTTP/2: the blocked write must fail
// after the timeout, and the handler return.
func TestWriteGuardCutsClientThatStopsReading(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := "http1"
		if h2 {
			name = "http2"
		}
		t.Run(name, func(t *testing.T) {
			const timeout = 300 * time.Millisecond
			result := make(chan error, 1)
			var written int
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Wrapped as the filters wrap it: the guard must reach
				// the connection through Unwrap.
				w = &seatReleasingWriter{ResponseWriter: &statusRecorder{ResponseWriter: w}, release: func() {}}
				g := newWriteGuard(w, timeout)
				defer g.close()
				frame := make([]byte, 64<<10)
				for {
					if err := g.write(w, frame, w.(http.Flusher)); err != nil {
						result <- err
						return
					}
					written += len(frame)
				}
			}))
			ts.EnableHTTP2 = h2
			ts.StartTLS()
			defer ts.Close()
			resp, err := ts.Client().Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.ProtoMajor == 2; got != h2 {
				t.Fatalf("protocol %s", resp.Proto)
			}
			select {
			case err := <-result:
				if !errors.Is(err, errWatchWriteTimeout) {
					t.Fatalf("write ended with %v, want errWatchWriteTimeout", err)
				}
				t.Logf("cut after %d KiB", written>>10)
			case <-time.After(30 * time.Second):
				t.Fatal("the write to a client that does not read never timed out")
			}
		})
	}
}

// TestWriteGuardIdleIsNotCut: the timeout counts only while a write
// blocks; a stream idle for longer still works.
func TestWriteGuardIdleIsNotCut(t *testing.T) {
	const timeout = 100 * time.Millisecond
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := newWriteGuard(w, timeout)
		defer g.close()
		for range 2 {
			if err := g.write(w, []byte("x"), w.(http.Flusher)); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			time.Sleep(3 * timeout)
		}
	}))
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4)
	n, _ := readFull(resp, buf[:2])
	if n != 2 {
		t.Fatalf("read %d bytes, want 2", n)
	}
}

func readFull(resp *http.Response, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := resp.Body.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
