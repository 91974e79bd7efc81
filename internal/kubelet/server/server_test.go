package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/kubelet/server/streamtest"
)

// pods is a PodSource and ContainerSource over fixed maps.
type pods struct {
	mu         sync.Mutex
	pods       map[string]*corev1.Pod
	containers map[string]ContainerInfo // uid/name[/previous]
	sandboxes  map[types.UID]string
}

func (p *pods) GetPod(ns, name string) (*corev1.Pod, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod, ok := p.pods[ns+"/"+name]
	return pod, ok
}

func (p *pods) ListPods() []*corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*corev1.Pod
	for _, pod := range p.pods {
		out = append(out, pod)
	}
	return out
}

func (p *pods) Container(uid types.UID, name string, previous bool) (ContainerInfo, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := string(uid) + "/" + name
	if previous {
		key += "/previous"
	}
	c, ok := p.containers[key]
	return c, ok
}

func (p *pods) Sandbox(uid types.UID) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.sandboxes[uid]
	return id, ok
}

// kubeletEnv is a running kubelet server with one pod, web, whose
// container app runs and whose container old exited.
type kubeletEnv struct {
	url     string
	ca      *auth.CA
	runtime *streamtest.Runtime
	logPath string
}

func startKubelet(t *testing.T) *kubeletEnv {
	t.Helper()
	dir := t.TempDir()
	ca, err := auth.EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := auth.EnsureServingCert(dir, ca, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	streams := streamtest.NewStreamServer()
	t.Cleanup(streams.Close)
	rt := streamtest.NewRuntime(streams)
	logPath := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logPath, []byte("2024-05-01T10:00:01Z stdout F first\n2024-05-01T10:00:02Z stderr F second\n2024-05-01T10:00:03Z stdout F third\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prevLog := filepath.Join(dir, "app-0.log")
	if err := os.WriteFile(prevLog, []byte("2024-05-01T09:00:00Z stdout F crashed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt.SetContainer("c-app", runtimeapi.ContainerState_CONTAINER_RUNNING, logPath)
	rt.SetContainer("c-app-0", runtimeapi.ContainerState_CONTAINER_EXITED, prevLog)
	rt.SetSandbox("sb-web")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "uid-web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "side"}}}}
	src := &pods{
		pods:       map[string]*corev1.Pod{"default/web": pod},
		containers: map[string]ContainerInfo{"uid-web/app": {ID: "c-app"}, "uid-web/app/previous": {ID: "c-app-0", LogPath: prevLog}},
		sandboxes:  map[types.UID]string{"uid-web": "sb-web"},
	}
	srv, err := New(Config{TLSCert: serving, ClientCAs: ca.Pool(), Pods: src, Containers: src, Runtime: rt,
		LogPollInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &kubeletEnv{url: "https://" + ln.Addr().String(), ca: ca, runtime: rt, logPath: logPath}
}

// restConfig is a client of the kubelet as user in groups.
func (e *kubeletEnv) restConfig(t *testing.T, user string, groups ...string) *rest.Config {
	t.Helper()
	cert, key, err := auth.IssueClientCert(e.ca, user, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{Host: e.url, TLSClientConfig: rest.TLSClientConfig{CAData: e.ca.CertPEM, CertData: cert, KeyData: key}}
}

func (e *kubeletEnv) client(t *testing.T, user string, groups ...string) *http.Client {
	t.Helper()
	hc, err := rest.HTTPClientFor(e.restConfig(t, user, groups...))
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

func get(t *testing.T, hc *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestAuthentication(t *testing.T) {
	e := startKubelet(t)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool()}}}
	if code, body := get(t, anon, e.url+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthz without a certificate: %d %q", code, body)
	}
	if code, _ := get(t, anon, e.url+"/pods"); code != http.StatusUnauthorized {
		t.Errorf("pods without a certificate: %d, want 401", code)
	}
	for _, tc := range []struct {
		user   string
		groups []string
		want   int
	}{
		{"alice", nil, http.StatusForbidden},
		{"system:node:other", []string{"system:nodes"}, http.StatusForbidden},
		{APIServerKubeletClientUser, nil, http.StatusOK},
		{APIServerUser, nil, http.StatusOK},
		{"system:admin", []string{"system:masters"}, http.StatusOK},
	} {
		hc := e.client(t, tc.user, tc.groups...)
		if code, body := get(t, hc, e.url+"/containerLogs/default/web/app"); code != tc.want {
			t.Errorf("%s: containerLogs: %d %q, want %d", tc.user, code, body, tc.want)
		}
	}
}

func TestPodsAndLogs(t *testing.T) {
	e := startKubelet(t)
	hc := e.client(t, APIServerKubeletClientUser)
	code, body := get(t, hc, e.url+"/pods")
	var list corev1.PodList
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || list.Kind != "PodList" || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Fatalf("/pods: %d %s", code, body)
	}
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"", 200, "first\nsecond\nthird\n"},
		{"?tailLines=2&timestamps=true", 200, "2024-05-01T10:00:02.000000000Z second\n2024-05-01T10:00:03.000000000Z third\n"},
		{"?limitBytes=3", 200, "fir"},
		{"?sinceTime=2024-05-01T10:00:02Z", 200, "second\nthird\n"},
		{"?previous=true", 200, "crashed\n"},
		{"?tailLines=-3", 400, "invalid tailLines"},
	} {
		code, body := get(t, hc, e.url+"/containerLogs/default/web/app"+tc.query)
		if code != tc.code || !strings.HasPrefix(body, tc.want) || (code == 200 && body != tc.want) {
			t.Errorf("logs%s: %d %q, want %d %q", tc.query, code, body, tc.code, tc.want)
		}
	}
	for path, want := range map[string]int{
		"/containerLogs/default/nope/app":               404,
		"/containerLogs/other/web/app":                  404,
		"/containerLogs/default/web/nope":               404,
		"/containerLogs/default/web/side":               400, // in the spec, never started
		"/containerLogs/default/web/side?previous=true": 400,
	} {
		if code, body := get(t, hc, e.url+path); code != want {
			t.Errorf("%s: %d %q, want %d", path, code, body, want)
		}
	}
}

func TestFollowEndsWhenTheContainerExits(t *testing.T) {
	e := startKubelet(t)
	hc := e.client(t, APIServerKubeletClientUser)
	resp, err := hc.Get(e.url + "/containerLogs/default/web/app?follow=true&tailLines=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 10)
	go func() {
		defer close(lines)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				lines <- string(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	if got := <-lines; got != "third\n" {
		t.Fatalf("first chunk %q", got)
	}
	appendLog(t, e.logPath, "2024-05-01T10:00:04Z stdout F fourth\n")
	if got := <-lines; got != "fourth\n" {
		t.Fatalf("followed %q", got)
	}
	e.runtime.SetContainer("c-app", runtimeapi.ContainerState_CONTAINER_EXITED, e.logPath)
	select {
	case rest, ok := <-lines:
		if ok {
			if _, more := <-lines; more || rest != "" {
				t.Fatalf("unexpected output after exit: %q", rest)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when the container exited")
	}
}

// execURL is the kubelet's exec URL for web/app.
func (e *kubeletEnv) execURL(t *testing.T, query string) *url.URL {
	u, err := url.Parse(e.url + "/exec/default/web/app?" + query)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestExec(t *testing.T) {
	e := startKubelet(t)
	cfg := e.restConfig(t, APIServerKubeletClientUser)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", e.execURL(t, "command=upper&input=1&output=1&error=1"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("hello kubelet\n"), Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("exec upper: %v (stderr %q)", err, stderr.String())
	}
	if stdout.String() != "HELLO KUBELET\n" {
		t.Errorf("stdout %q", stdout.String())
	}

	ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", e.execURL(t, "command=exit&command=3&command=boom&output=true&error=true"))
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	var exitErr exec.CodeExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 3 {
		t.Fatalf("exit 3: got %v", err)
	}
	if stderr.String() != "boom\n" {
		t.Errorf("stderr %q", stderr.String())
	}

	// Attach, with a terminal.
	au, _ := url.Parse(e.url + "/attach/default/web/app?input=1&output=1&tty=1")
	ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", au)
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("typed\n"), Stdout: &stdout, Tty: true}); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if stdout.String() != "attached\ntyped\n" {
		t.Errorf("attach stdout %q", stdout.String())
	}
}

func TestExecErrors(t *testing.T) {
	e := startKubelet(t)
	hc := e.client(t, APIServerKubeletClientUser)
	post := func(path string) (int, string) {
		resp, err := hc.Post(e.url+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for path, want := range map[string]int{
		"/exec/default/web/app?output=1":                      400, // no command
		"/exec/default/web/app?command=ls":                    400, // no stream
		"/exec/default/web/app?command=ls&output=perhaps":     400,
		"/exec/default/nope/app?command=ls&output=1":          404,
		"/exec/default/web/nope?command=ls&output=1":          404,
		"/exec/default/web/wrong-uid/app?command=ls&output=1": 404,
		"/portForward/default/nope":                           404,
		"/portForward/default/web?port=0":                     400,
	} {
		if code, body := post(path); code != want {
			t.Errorf("%s: %d %q, want %d", path, code, body, want)
		}
	}
	e.runtime.SetContainer("c-app", runtimeapi.ContainerState_CONTAINER_EXITED, e.logPath)
	if code, body := post("/exec/default/web/app?command=ls&output=1"); code != 400 || !strings.Contains(body, "CONTAINER_EXITED") {
		t.Errorf("exec in an exited container: %d %q", code, body)
	}
}

func TestRun(t *testing.T) {
	e := startKubelet(t)
	hc := e.client(t, APIServerKubeletClientUser)
	resp, err := hc.Post(e.url+"/run/default/web/app?cmd=echo+hi+there", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hi there\n" {
		t.Errorf("run: %d %q", resp.StatusCode, body)
	}
}

func TestPortForward(t *testing.T) {
	e := startKubelet(t)
	cfg := e.restConfig(t, APIServerKubeletClientUser)
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.url + "/portForward/default/web")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	defer func() {
		close(stop)
		<-done
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("port-forward: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward not ready")
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("ports %v %v", ports, err)
	}
	for i := range 2 { // two connections over one forward
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("ping %d", i)
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
			t.Errorf("echo %q: %q %v", msg, got, err)
		}
		_ = conn.Close()
	}
}
