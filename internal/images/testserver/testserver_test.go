package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// started is a subcommand running in the test process.
type started struct {
	addrs  map[string]net.Addr
	stdout *syncBuffer
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// start runs a server subcommand and waits until it has bound the sockets
// named in want.
func start(t *testing.T, args []string, want ...string) *started {
	t.Helper()
	bound := make(chan [2]any, 4)
	s := &started{addrs: map[string]net.Addr{}, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1)}
	e := &env{stdout: s.stdout, stderr: s.stderr, hostname: "test-host",
		listening: func(name string, a net.Addr) { bound <- [2]any{name, a} }}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- run(ctx, e, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%v did not stop", args)
		}
	})
	for len(s.addrs) < len(want) {
		select {
		case b := <-bound:
			s.addrs[b[0].(string)] = b[1].(net.Addr)
		case code := <-s.done:
			s.done <- code
			t.Fatalf("%v exited with %d before listening: %s", args, code, s.stderr.String())
		case <-time.After(10 * time.Second):
			t.Fatalf("%v did not listen on %v", args, want)
		}
	}
	return s
}

func (s *started) url(name, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", s.addrs[name].(*net.TCPAddr).Port, path)
}

func (s *started) port(name string) int {
	switch a := s.addrs[name].(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}

func (s *started) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit")
		return -1
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func udpAsk(t *testing.T, port int, msg string) string {
	t.Helper()
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("UDP %q: %v", msg, err)
	}
	return string(buf[:n])
}

func TestNetexecEndpoints(t *testing.T) {
	s := start(t, []string{"netexec", "--http-port=0", "--udp-port", "0"}, "http", "udp")
	cases := []struct {
		path string
		code int
		body string
	}{
		{"/hostname", 200, "test-host"},
		{"/hostName", 200, "test-host"},
		{"/echo?msg=hello%20world", 200, "hello world"},
		{"/echo?msg=teapot&code=418", 418, "teapot"},
		{"/echo?code=abc", 400, "code \"abc\" is not an HTTP status\n"},
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ok"},
		{"/serverport", 200, fmt.Sprint(s.port("http"))},
		{"/redirect?location=/echo%3Fmsg%3Dx&code=307", 307, ""},
		{"/dial?host=127.0.0.1&port=1", 400, "host, port and request are required\n"},
	}
	for _, c := range cases {
		code, body := get(t, s.url("http", c.path))
		if code != c.code || (c.body != "" && body != c.body) {
			t.Errorf("GET %s = %d %q, want %d %q", c.path, code, body, c.code, c.body)
		}
	}
	if _, body := get(t, s.url("http", "/clientip")); !strings.HasPrefix(body, "127.0.0.1:") {
		t.Errorf("/clientip = %q", body)
	}

	// Health can be failed and restored on demand.
	get(t, s.url("http", "/health/fail"))
	if code, _ := get(t, s.url("http", "/healthz")); code != 500 {
		t.Errorf("/healthz after /health/fail = %d, want 500", code)
	}
	if code, _ := get(t, s.url("http", "/readyz")); code != 500 {
		t.Errorf("/readyz after /health/fail = %d, want 500", code)
	}
	get(t, s.url("http", "/health/ok"))
	if code, _ := get(t, s.url("http", "/healthz")); code != 200 {
		t.Errorf("/healthz after /health/ok = %d, want 200", code)
	}

	// UDP protocol.
	udp := s.port("udp")
	for msg, want := range map[string]string{"hostname": "test-host", "echo a b": "a b", "hostname\n": "test-host"} {
		if got := udpAsk(t, udp, msg); got != want {
			t.Errorf("UDP %q = %q, want %q", msg, got, want)
		}
	}
	if got := udpAsk(t, udp, "clientip"); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("UDP clientip = %q", got)
	}

	// /dial reaches another server over HTTP and UDP.
	var res dialResult
	code, body := get(t, s.url("http", fmt.Sprintf("/dial?request=hostname&host=127.0.0.1&port=%d&tries=2", s.port("http"))))
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 200 || len(res.Responses) != 2 || res.Responses[0] != "test-host" {
		t.Errorf("/dial http = %d %s (%v)", code, body, err)
	}
	code, body = get(t, s.url("http", fmt.Sprintf("/dial?request=echo%%20x&protocol=udp&host=127.0.0.1&port=%d", udp)))
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 200 || len(res.Responses) != 1 || res.Responses[0] != "x" {
		t.Errorf("/dial udp = %d %s (%v)", code, body, err)
	}
	code, body = get(t, s.url("http", fmt.Sprintf("/dial?request=hostname&host=127.0.0.1&port=%d", closedPort(t))))
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 417 || len(res.Errors) != 1 {
		t.Errorf("/dial to a closed port = %d %s (%v)", code, body, err)
	}
}

// closedPort returns a TCP port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestNetexecExitCode(t *testing.T) {
	s := start(t, []string{"netexec", "--http-port=0", "--udp-port=-1"}, "http")
	if code, body := get(t, s.url("http", "/exit?code=7&timeout=1s")); code != 200 || body != "exiting with code 7" {
		t.Fatalf("/exit = %d %q", code, body)
	}
	if code := s.wait(t); code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port("http"))); err == nil {
		c.Close()
		t.Error("the HTTP port still accepts connections after /exit")
	}
}

func TestNetexecExitRejectsBadCode(t *testing.T) {
	s := start(t, []string{"netexec", "--http-port=0", "--udp-port=-1"}, "http")
	if code, _ := get(t, s.url("http", "/exit?code=200")); code != 400 {
		t.Errorf("/exit?code=200 = %d, want 400", code)
	}
	if code, _ := get(t, s.url("http", "/shutdown")); code != 200 {
		t.Errorf("/shutdown = %d", code)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit code after /shutdown = %d, want 0", code)
	}
}

func TestNetexecStopsOnSignalWithZero(t *testing.T) {
	s := start(t, []string{"netexec", "--http-port=0"}, "http", "udp")
	s.cancel() // what SIGTERM does in Main
	if code := s.wait(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestServeHostname(t *testing.T) {
	h := start(t, []string{"serve-hostname", "--port=0"}, "tcp")
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/anything", h.port("tcp"))); code != 200 || body != "test-host" {
		t.Errorf("HTTP = %d %q", code, body)
	}

	raw := start(t, []string{"serve-hostname", "--tcp", "--udp", "--port=0"}, "tcp", "udp")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", raw.port("tcp")))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(b) != "test-host" {
		t.Errorf("raw TCP = %q, %v", b, err)
	}
	if got := udpAsk(t, raw.port("udp"), "x"); got != "test-host" {
		t.Errorf("UDP = %q", got)
	}
}

func TestServeHostnameRejectsHTTPWithTCP(t *testing.T) {
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr}
	if code := run(context.Background(), e, []string{"serve-hostname", "--http", "--tcp"}); code != 2 {
		t.Errorf("exit code %d, want 2 (%s)", code, stderr.String())
	}
}

func TestLiveness(t *testing.T) {
	s := start(t, []string{"liveness", "--port=0", "--healthy-for=300ms"}, "http")
	if code, _ := get(t, s.url("http", "/healthz")); code != 200 {
		t.Errorf("/healthz at start = %d, want 200", code)
	}
	time.Sleep(400 * time.Millisecond)
	if code, body := get(t, s.url("http", "/healthz")); code != 500 || !strings.HasPrefix(body, "error:") {
		t.Errorf("/healthz later = %d %q, want 500", code, body)
	}
}

func TestTestWebserver(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.txt"), []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, []string{"test-webserver", "--port=0", "--root", dir}, "http")
	if code, body := get(t, s.url("http", "/index.txt")); code != 200 || body != "content" {
		t.Errorf("GET /index.txt = %d %q", code, body)
	}
	if code, _ := get(t, s.url("http", "/missing")); code != 404 {
		t.Errorf("GET /missing = %d, want 404", code)
	}
}

func TestEchoServers(t *testing.T) {
	tcp := start(t, []string{"echo-tcp", "--port=0"}, "tcp")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcp.port("tcp")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Errorf("TCP echo = %q, %v", buf, err)
	}

	udp := start(t, []string{"echo-udp", "--port=0"}, "udp")
	if got := udpAsk(t, udp.port("udp"), "pong"); got != "pong" {
		t.Errorf("UDP echo = %q", got)
	}
}

// runCmd runs a short-lived subcommand and returns its exit code and output.
func runCmd(t *testing.T, e *env, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if e == nil {
		e = &env{}
	}
	e.stdout, e.stderr = &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, e, args)
	return code, stdout.String(), stderr.String()
}

func TestConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if code, _, stderr := runCmd(t, nil, "connect", ln.Addr().String()); code != 0 {
		t.Errorf("connect to a listener = %d (%s)", code, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "connect", "--timeout=2s", fmt.Sprintf("127.0.0.1:%d", closedPort(t))); code != 1 || !strings.HasPrefix(stderr, "REFUSED:") {
		t.Errorf("connect to a closed port = %d %q, want 1 REFUSED", code, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "connect", "no-port"); code != 1 || !strings.HasPrefix(stderr, "UNKNOWN:") {
		t.Errorf("connect no-port = %d %q, want 1 UNKNOWN", code, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "connect", "host.invalid:80", "--timeout", "3s"); code != 1 || !strings.HasPrefix(stderr, "DNS:") {
		t.Errorf("connect host.invalid = %d %q, want 1 DNS", code, stderr)
	}
}

func TestDNSCommands(t *testing.T) {
	if code, stdout, stderr := runCmd(t, nil, "dnslookup", "localhost"); code != 0 || !strings.Contains(stdout, "127.0.0.1") {
		t.Errorf("dnslookup localhost = %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "dns-lookup", "--timeout=3s", "name.invalid"); code != 1 || !strings.HasPrefix(stderr, "DNS:") {
		t.Errorf("dns-lookup name.invalid = %d %q", code, stderr)
	}
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	os.WriteFile(resolv, []byte("# comment\nnameserver 10.43.0.10\nnameserver 1.1.1.1\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n"), 0o644)
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644)
	e := &env{resolvConf: resolv, etcHosts: hosts}
	if _, out, _ := runCmd(t, e, "dns-server-list"); out != "10.43.0.10,1.1.1.1\n" {
		t.Errorf("dns-server-list = %q", out)
	}
	if _, out, _ := runCmd(t, e, "dns-suffix"); out != "default.svc.cluster.local,svc.cluster.local\n" {
		t.Errorf("dns-suffix = %q", out)
	}
	if _, out, _ := runCmd(t, e, "etc-hosts"); out != "127.0.0.1 localhost\n" {
		t.Errorf("etc-hosts = %q", out)
	}
}

func TestExitSleepAndUsage(t *testing.T) {
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"exit", "3"}, 3},
		{[]string{"exit", "--code=42"}, 42},
		{[]string{"exit"}, 0},
		{[]string{"exit", "300"}, 2},
		{[]string{"exit", "x"}, 2},
		{[]string{"sleep", "0.05"}, 0},
		{[]string{"sleep", "10ms"}, 0},
		{[]string{"sleep", "-1"}, 2},
		{[]string{"sleep"}, 2},
		{[]string{"no-such-command"}, 2},
		{[]string{"netexec", "--http-port=99999"}, 2},
		{[]string{"netexec", "--no-such-flag"}, 2},
		{nil, 0},
	}
	for _, c := range cases {
		if code, _, stderr := runCmd(t, nil, c.args...); code != c.code {
			t.Errorf("%v = %d, want %d (%s)", c.args, code, c.code, stderr)
		}
	}
	if _, out, _ := runCmd(t, nil, "entrypoint-tester", "a", "b c"); out != "a b c\n" {
		t.Errorf("entrypoint-tester = %q", out)
	}
}

func TestPauseWaitsForSignal(t *testing.T) {
	s := start(t, []string{"pause"})
	select {
	case code := <-s.done:
		t.Fatalf("pause exited early with %d", code)
	case <-time.After(100 * time.Millisecond):
	}
	s.cancel()
	if code := s.wait(t); code != 0 {
		t.Errorf("pause exit code %d", code)
	}
}
