// Package streamtest is a container runtime's streaming side for tests of
// the kubelet server and the API server's proxying: a streaming server
// that speaks the remotecommand v4 protocol (exec, attach) and the
// portforward.k8s.io protocol over SPDY, and a Runtime whose Exec, Attach
// and PortForward hand out its URLs. Commands run in-process (see Run),
// and forwarded ports echo.
package streamtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// Stream protocol names and stream header values, as the CRI streaming
// protocols spell them.
const (
	remoteCommandV4 = "v4.channel.k8s.io"
	portForwardV1   = "portforward.k8s.io"

	streamTypeHeader = "streamType"
	streamError      = "error"
	streamStdin      = "stdin"
	streamStdout     = "stdout"
	streamStderr     = "stderr"
	streamResize     = "resize"
	streamData       = "data"
)

// TerminalSize is a resize message from the client.
type TerminalSize struct {
	Width, Height uint16
}

// RunFunc runs cmd with the given streams (nil when not requested; stdout
// is the terminal when tty) and returns its exit code. resize delivers
// terminal sizes when tty, else it is nil.
type RunFunc func(cmd []string, stdin io.Reader, stdout, stderr io.Writer, resize <-chan TerminalSize) int

// StreamServer is the runtime's streaming server: URLs are one-shot
// tokens, as containerd's are.
type StreamServer struct {
	URL string
	// Run runs exec'd commands (default DefaultRun); attach runs
	// cmd []string{"attach"}.
	Run RunFunc

	srv     *httptest.Server
	mu      sync.Mutex
	pending map[string]pendingStream
}

type pendingStream struct {
	kind                       string // exec, attach, portforward
	cmd                        []string
	stdin, stdout, stderr, tty bool
}

// NewStreamServer starts a streaming server on loopback; Close stops it.
func NewStreamServer() *StreamServer {
	s := &StreamServer{Run: DefaultRun, pending: map[string]pendingStream{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{token}", s.serveRemoteCommand)
	mux.HandleFunc("/attach/{token}", s.serveRemoteCommand)
	mux.HandleFunc("/portforward/{token}", s.servePortForward)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server and cuts open streams.
func (s *StreamServer) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

func (s *StreamServer) register(p pendingStream) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	s.mu.Lock()
	s.pending[token] = p
	s.mu.Unlock()
	return fmt.Sprintf("%s/%s/%s", s.URL, p.kind, token)
}

func (s *StreamServer) take(kind, token string) (pendingStream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[token]
	if !ok || p.kind != kind {
		return pendingStream{}, false
	}
	delete(s.pending, token)
	return p, true
}

// ExecURL registers an exec and returns its URL.
func (s *StreamServer) ExecURL(req *runtimeapi.ExecRequest) string {
	return s.register(pendingStream{kind: "exec", cmd: req.Cmd, stdin: req.Stdin, stdout: req.Stdout, stderr: req.Stderr, tty: req.Tty})
}

// AttachURL registers an attach and returns its URL.
func (s *StreamServer) AttachURL(req *runtimeapi.AttachRequest) string {
	return s.register(pendingStream{kind: "attach", cmd: []string{"attach"}, stdin: req.Stdin, stdout: req.Stdout, stderr: req.Stderr, tty: req.Tty})
}

// PortForwardURL registers a port-forward and returns its URL.
func (s *StreamServer) PortForwardURL() string {
	return s.register(pendingStream{kind: "portforward"})
}

// serveRemoteCommand serves one exec or attach: the client opens the
// error stream, then stdin, stdout, stderr as requested, and resize with
// a terminal; the exit status goes back on the error stream as a Status.
func (s *StreamServer) serveRemoteCommand(w http.ResponseWriter, r *http.Request) {
	kind := "exec"
	if r.URL.Path[1] == 'a' {
		kind = "attach"
	}
	p, ok := s.take(kind, r.PathValue("token"))
	if !ok {
		http.Error(w, "unknown or used streaming token", http.StatusNotFound)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{remoteCommandV4}); err != nil {
		return // Handshake answered
	}
	streamCh := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
		streamCh <- st
		return nil
	})
	if conn == nil {
		return
	}
	defer func() { _ = conn.Close() }()
	conn.SetIdleTimeout(5 * time.Minute)

	want := 1
	for _, b := range []bool{p.stdin, p.stdout, p.stderr && !p.tty, p.tty} {
		if b {
			want++
		}
	}
	streams := map[string]httpstream.Stream{}
	timeout := time.After(10 * time.Second)
	for len(streams) < want {
		select {
		case st := <-streamCh:
			streams[st.Headers().Get(streamTypeHeader)] = st
		case <-timeout:
			return
		case <-conn.CloseChan():
			return
		}
	}
	var stdin io.Reader
	var stdout, stderr io.Writer
	if st := streams[streamStdin]; st != nil {
		stdin = st
	}
	if st := streams[streamStdout]; st != nil {
		stdout = st
	}
	if st := streams[streamStderr]; st != nil {
		stderr = st
	}
	var resize chan TerminalSize
	if st := streams[streamResize]; st != nil {
		resize = make(chan TerminalSize, 4)
		go decodeResizes(st, resize)
	}
	code := s.Run(p.cmd, stdin, stdout, stderr, resize)
	for _, name := range []string{streamStdout, streamStderr} {
		if st := streams[name]; st != nil {
			_ = st.Close()
		}
	}
	errStream := streams[streamError]
	_, _ = errStream.Write(exitStatus(code))
	_ = errStream.Close()
}

func decodeResizes(r io.Reader, out chan<- TerminalSize) {
	defer close(out)
	dec := json.NewDecoder(r)
	for {
		var size TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case out <- size:
		default: // the command does not read sizes: drop
		}
	}
}

// exitStatus is the v4 error-stream message for an exit code.
func exitStatus(code int) []byte {
	st := metav1.Status{Status: metav1.StatusSuccess}
	if code != 0 {
		st = metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  "NonZeroExitCode",
			Message: fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(code)}}},
		}
	}
	data, _ := json.Marshal(st)
	return data
}
