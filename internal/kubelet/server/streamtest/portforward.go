package streamtest

import (
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// servePortForward serves portforward.k8s.io: for each connection the
// client opens an error stream and a data stream with the same
// requestID header; the data stream echoes what it receives, and the
// error stream closes without a message once the data stream is done.
func (s *StreamServer) servePortForward(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.take("portforward", r.PathValue("token")); !ok {
		http.Error(w, "unknown or used streaming token", http.StatusNotFound)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{portForwardV1}); err != nil {
		return
	}
	pairs := &streamPairs{byID: map[string]*streamPair{}}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, replySent <-chan struct{}) error {
		if p := pairs.add(st); p != nil {
			go func() {
				defer pairs.wg.Done()
				<-replySent
				p.echo()
			}()
		}
		return nil
	})
	if conn == nil {
		return
	}
	defer func() { _ = conn.Close() }()
	conn.SetIdleTimeout(5 * time.Minute)
	<-conn.CloseChan()
	pairs.wg.Wait()
}

type streamPair struct {
	data, err httpstream.Stream
}

// echo copies the data stream back to itself until the client closes
// its side.
func (p *streamPair) echo() {
	_, _ = io.Copy(p.data, p.data)
	_ = p.data.Close()
	_ = p.err.Close()
}

type streamPairs struct {
	mu   sync.Mutex
	byID map[string]*streamPair
	wg   sync.WaitGroup
}

// add records a stream and returns its pair once both halves are there.
func (ps *streamPairs) add(st httpstream.Stream) *streamPair {
	id := st.Headers().Get("requestID")
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byID[id]
	if p == nil {
		p = &streamPair{}
		ps.byID[id] = p
	}
	switch st.Headers().Get(streamTypeHeader) {
	case streamData:
		p.data = st
	case streamError:
		p.err = st
	default:
		_ = st.Reset()
		return nil
	}
	if p.data == nil || p.err == nil {
		return nil
	}
	delete(ps.byID, id)
	ps.wg.Add(1)
	return &streamPair{data: p.data, err: p.err}
}
