package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// splitHostPort is the test server's host and port.
func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return h, port
}

func TestHTTPProbe(t *testing.T) {
	var gotUA, gotHeader, gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			gotUA, gotHeader, gotHost = r.UserAgent(), r.Header.Get("X-Custom"), r.Host
			if r.URL.RawQuery != "full=1" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, "fine")
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "/local-redirect":
			http.Redirect(w, r, "/ok?full=1", http.StatusFound)
		case "/remote-redirect":
			_, port, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, "http://localhost:"+port+"/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	host, port := splitHostPort(t, srv.Listener.Addr().String())
	m := New(Options{})
	defer m.Stop()
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	probe := func(path string, portRef intstr.IntOrString, headers ...corev1.HTTPHeader) (result, string, error) {
		a := &corev1.HTTPGetAction{Path: path, Port: portRef, HTTPHeaders: headers}
		return m.probeHTTP(context.Background(), a, c, host, 200*time.Millisecond)
	}
	res, out, err := probe("/ok?full=1", intstr.FromString("http"), corev1.HTTPHeader{Name: "X-Custom", Value: "v"},
		corev1.HTTPHeader{Name: "Host", Value: "example.test"})
	if err != nil || res != success || out != "fine" {
		t.Fatalf("ok: %v %q %v", res, out, err)
	}
	if gotUA != "kube-probe/1.32" || gotHeader != "v" || gotHost != "example.test" {
		t.Fatalf("request had UA %q, X-Custom %q, Host %q", gotUA, gotHeader, gotHost)
	}
	if _, _, _ = probe("/ok?full=1", intstr.FromInt32(int32(port)), corev1.HTTPHeader{Name: "User-Agent", Value: "mine"}); gotUA != "mine" {
		t.Fatalf("user agent override: %q", gotUA)
	}
	cases := []struct {
		path    string
		want    result
		wantOut string
	}{
		{"/fail", failure, "HTTP probe failed with statuscode: 500"},
		{"/local-redirect", success, "fine"},
		{"/remote-redirect", warning, "Probe terminated redirects"},
		{"/loop", failure, "stopped after 10 redirects"},
		{"/slow", failure, "context deadline exceeded"},
	}
	for _, tc := range cases {
		res, out, err := probe(tc.path, intstr.FromInt32(int32(port)))
		if err != nil || res != tc.want || !strings.Contains(out, tc.wantOut) {
			t.Errorf("%s: %v %q %v; want %v %q", tc.path, res, out, err, tc.want, tc.wantOut)
		}
	}
	if _, _, err := probe("/ok", intstr.FromString("nope")); err == nil || !strings.Contains(err.Error(), "couldn't find port: nope") {
		t.Errorf("unknown port name: %v", err)
	}
	if _, _, err := probe("/ok", intstr.FromInt32(70000)); err == nil || !strings.Contains(err.Error(), "invalid port number") {
		t.Errorf("bad port: %v", err)
	}
	srv.Close()
	if res, out, _ := probe("/ok", intstr.FromInt32(int32(port))); res != failure || !strings.Contains(out, "connection refused") {
		t.Errorf("closed server: %v %q", res, out)
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(t, ln.Addr().String())
	if res, _, err := probeTCP(context.Background(), host, port, time.Second); res != success || err != nil {
		t.Fatalf("open port: %v %v", res, err)
	}
	ln.Close()
	res, out, err := probeTCP(context.Background(), host, port, time.Second)
	if res != failure || err != nil || !strings.Contains(out, "connection refused") {
		t.Fatalf("closed port: %v %q %v", res, out, err)
	}
}

func TestGRPCProbe(t *testing.T) {
	start := func(withHealth bool) (*grpc.Server, *health.Server, string, int) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		var hs *health.Server
		if withHealth {
			hs = health.NewServer()
			healthpb.RegisterHealthServer(s, hs)
		}
		go func() { _ = s.Serve(ln) }()
		h, p := splitHostPort(t, ln.Addr().String())
		return s, hs, h, p
	}
	s, hs, host, port := start(true)
	defer s.Stop()
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	cases := []struct {
		service string
		want    result
		out     string
	}{
		{"", success, "service healthy"},
		{"db", failure, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown", failure, "error: health rpc probe failed"},
	}
	for _, tc := range cases {
		res, out, err := probeGRPC(context.Background(), host, port, tc.service, time.Second)
		if err != nil || res != tc.want || !strings.Contains(out, tc.out) {
			t.Errorf("service %q: %v %q %v", tc.service, res, out, err)
		}
	}
	bare, _, bhost, bport := start(false)
	defer bare.Stop()
	if res, out, _ := probeGRPC(context.Background(), bhost, bport, "", time.Second); res != failure ||
		!strings.Contains(out, "does not implement the grpc health protocol") {
		t.Errorf("no health service: %v %q", res, out)
	}
	s.Stop()
	if res, out, _ := probeGRPC(context.Background(), host, port, "", time.Second); res != failure ||
		!strings.Contains(out, "failed to connect service") {
		t.Errorf("stopped server: %v %q", res, out)
	}
}

func TestExecProbe(t *testing.T) {
	var gotID string
	var gotCmd []string
	var gotTimeout time.Duration
	exec := func(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int, error) {
		gotID, gotCmd, gotTimeout = id, cmd, timeout
		switch cmd[0] {
		case "ok":
			return []byte("all good"), 0, nil
		case "bad":
			return []byte("broken"), 2, nil
		case "hang":
			<-ctx.Done()
			return nil, -1, ctx.Err()
		}
		return nil, -1, errors.New("runtime unavailable")
	}
	m := New(Options{Exec: exec})
	defer m.Stop()
	if res, out, err := m.probeExec(context.Background(), "cid", []string{"ok", "x"}, 2*time.Second); res != success || out != "all good" || err != nil {
		t.Fatalf("ok: %v %q %v", res, out, err)
	}
	if gotID != "cid" || strings.Join(gotCmd, " ") != "ok x" || gotTimeout != 2*time.Second {
		t.Fatalf("exec got %q %q %v", gotID, gotCmd, gotTimeout)
	}
	if res, out, err := m.probeExec(context.Background(), "cid", []string{"bad"}, time.Second); res != failure || out != "broken" || err != nil {
		t.Fatalf("bad: %v %q %v", res, out, err)
	}
	if res, out, err := m.probeExec(context.Background(), "cid", []string{"hang"}, 10*time.Millisecond); res != failure ||
		out != `command "hang" timed out` || err != nil {
		t.Fatalf("hang: %v %q %v", res, out, err)
	}
	if res, _, err := m.probeExec(context.Background(), "cid", []string{"other"}, time.Second); res != unknown || err == nil {
		t.Fatalf("runtime error: %v %v", res, err)
	}
	if _, _, err := New(Options{}).probeExec(context.Background(), "cid", []string{"ok"}, time.Second); err == nil {
		t.Fatal("probe without Exec did not error")
	}
}
