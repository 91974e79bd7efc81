package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

const sampleLog = "2024-05-01T10:00:01.000000001Z stdout F first\n" +
	"2024-05-01T10:00:02.000000002Z stderr F second\n" +
	"2024-05-01T10:00:03.000000003Z stdout P thi\n" +
	"2024-05-01T10:00:03.500000000Z stdout F rd\n"

// kubectlPath finds the real kubectl, or skips.
func kubectlPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	return p
}

// kubectl runs the real kubectl against env and returns its output and
// exit code. extraEnv adds environment variables (feature switches).
func (e *kubeletEnv) kubectl(t *testing.T, stdin string, extraEnv []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlPath(t), append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// The WebSocket path is kubectl's default; these switch it to SPDY.
var (
	spdyOnly    = []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}
	websocketOn = []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true", "KUBECTL_PORT_FORWARD_WEBSOCKETS=true"}
)

func TestKubectlLogs(t *testing.T) {
	kubectlPath(t)
	e := startKubeletEnv(t)
	e.addPod(t, "web", []string{"app"}, "", sampleLog)
	e.addPod(t, "multi", []string{"a", "b"}, "", sampleLog)
	e.addPod(t, "pending", []string{"app"}, "ContainerCreating", "")

	if out, errOut, code := e.kubectl(t, "", nil, "logs", "web"); code != 0 || out != "first\nsecond\nthird\n" {
		t.Errorf("kubectl logs: %d %q %q", code, out, errOut)
	}
	want := "2024-05-01T10:00:02.000000002Z second\n2024-05-01T10:00:03.000000003Z third\n"
	if out, errOut, code := e.kubectl(t, "", nil, "logs", "web", "--tail=2", "--timestamps"); code != 0 || out != want {
		t.Errorf("kubectl logs --tail=2 --timestamps: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := e.kubectl(t, "", nil, "logs", "web", "--limit-bytes=8"); code != 0 || out != "first\nse" {
		t.Errorf("kubectl logs --limit-bytes: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := e.kubectl(t, "", nil, "logs", "multi", "-c", "b", "--since-time=2024-05-01T10:00:02Z"); code != 0 || out != "second\nthird\n" {
		t.Errorf("kubectl logs -c b --since-time: %d %q %q", code, out, errOut)
	}
	_, errOut, code := e.kubectl(t, "", nil, "logs", "pending")
	if code == 0 || !strings.Contains(errOut, `Error from server (BadRequest): container "app" in pod "pending" is waiting to start: ContainerCreating`) {
		t.Errorf("kubectl logs of a waiting container: %d %q", code, errOut)
	}
	_, errOut, code = e.kubectl(t, "", nil, "logs", "web", "-c", "nope")
	if code == 0 || !strings.Contains(errOut, "container nope is not valid for pod web") {
		t.Errorf("kubectl logs -c nope: %d %q", code, errOut)
	}
	_, errOut, code = e.kubectl(t, "", nil, "logs", "web", "--previous")
	if code == 0 || !strings.Contains(errOut, `previous terminated container "app" in pod "web" not found`) {
		t.Errorf("kubectl logs --previous: %d %q", code, errOut)
	}

	// Without a container name, a pod of several containers is a 400
	// naming them (kubectl itself picks a default; other clients see this).
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(cfg.Host + "/api/v1/namespaces/default/pods/multi/log")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "a container name must be specified for pod multi, choose one of: [a b]") {
		t.Errorf("log of a multi-container pod without a container: %d %s", resp.StatusCode, body)
	}
}

func TestKubectlLogsFollow(t *testing.T) {
	e := startKubeletEnv(t)
	e.addPod(t, "web", []string{"app"}, "", sampleLog)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlPath(t), "--kubeconfig", e.kubeconfig, "logs", "-f", "web", "--tail=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut lockedBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl logs -f ended early: %s", errOut.String())
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("no line from kubectl logs -f")
		}
		return ""
	}
	if l := next(); l != "third" {
		t.Fatalf("first line %q", l)
	}
	appendFile(t, e.logPath("web", "app"), "2024-05-01T10:00:04Z stdout F fourth\n")
	if l := next(); l != "fourth" {
		t.Fatalf("followed line %q", l)
	}
	appendFile(t, e.logPath("web", "app"), "2024-05-01T10:00:05Z stdout F last words\n")
	e.runtime.SetContainer("web-app", runtimeapi.ContainerState_CONTAINER_EXITED, e.logPath("web", "app"))
	if l := next(); l != "last words" {
		t.Fatalf("last line %q", l)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kubectl logs -f: %v: %s", err, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("kubectl logs -f did not end when the container stopped")
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestKubectlExecAndAttach(t *testing.T) {
	kubectlPath(t)
	e := startKubeletEnv(t)
	e.addPod(t, "web", []string{"app"}, "", sampleLog)
	for _, mode := range []struct {
		name    string
		env     []string
		upgrade string
	}{{"websocket", websocketOn, "websocket"}, {"spdy", spdyOnly, "spdy/3.1"}} {
		t.Run(mode.name, func(t *testing.T) {
			e.upgrades.take()
			out, errOut, code := e.kubectl(t, "", mode.env, "exec", "web", "--", "echo", "hello", "there")
			if code != 0 || out != "hello there\n" || errOut != "" {
				t.Errorf("kubectl exec echo: %d %q %q", code, out, errOut)
			}
			out, errOut, code = e.kubectl(t, "shout this\n", mode.env, "exec", "-i", "web", "--", "upper")
			if code != 0 || out != "SHOUT THIS\n" || errOut != "" {
				t.Errorf("kubectl exec -i upper: %d %q %q", code, out, errOut)
			}
			out, errOut, code = e.kubectl(t, "", mode.env, "exec", "web", "-c", "app", "--", "exit", "3", "boom")
			if code != 3 || out != "" || !strings.Contains(errOut, "boom\n") || !strings.Contains(errOut, "command terminated with exit code 3") {
				t.Errorf("kubectl exec exit 3: %d %q %q", code, out, errOut)
			}
			out, errOut, code = e.kubectl(t, "typed\n", mode.env, "attach", "-i", "web")
			if code != 0 || !strings.Contains(out, "attached\ntyped\n") {
				t.Errorf("kubectl attach -i: %d %q %q", code, out, errOut)
			}
			// Every stream went the way asked, with no fallback.
			for _, up := range e.upgrades.take() {
				if up != mode.upgrade {
					t.Errorf("saw a %q upgrade in %s mode", up, mode.name)
				}
			}
		})
	}

	_, errOut, code := e.kubectl(t, "", nil, "exec", "web", "-c", "nope", "--", "echo")
	if code == 0 || !strings.Contains(errOut, "container nope is not valid for pod web") {
		t.Errorf("exec in an unknown container: %d %q", code, errOut)
	}
	// A stopped container: the runtime refuses, kubectl says why.
	e.runtime.SetContainer("web-app", runtimeapi.ContainerState_CONTAINER_EXITED, e.logPath("web", "app"))
	for _, env := range [][]string{websocketOn, spdyOnly} {
		_, errOut, code = e.kubectl(t, "", env, "exec", "web", "--", "echo")
		if code == 0 || !strings.Contains(errOut, "CONTAINER_EXITED") {
			t.Errorf("exec in a stopped container (%v): %d %q", env, code, errOut)
		}
	}
}

func TestKubectlPortForward(t *testing.T) {
	kubectlPath(t)
	e := startKubeletEnv(t)
	e.addPod(t, "web", []string{"app"}, "", sampleLog)
	for _, mode := range []struct {
		name    string
		env     []string
		upgrade string
	}{{"websocket", websocketOn, "websocket"}, {"spdy", spdyOnly, "spdy/3.1"}} {
		t.Run(mode.name, func(t *testing.T) {
			e.upgrades.take()
			portForwardEcho(t, e, mode.env)
			for _, up := range e.upgrades.take() {
				if up != mode.upgrade {
					t.Errorf("saw a %q upgrade in %s mode", up, mode.name)
				}
			}
		})
	}
}

var forwardingLine = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)

// portForwardEcho runs kubectl port-forward pod/web :8080 and checks that
// two connections through it echo.
func portForwardEcho(t *testing.T, e *kubeletEnv, env []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlPath(t), "--kubeconfig", e.kubeconfig, "port-forward", "pod/web", ":8080", "--address", "127.0.0.1")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut lockedBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	defer stop()
	portc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := forwardingLine.FindStringSubmatch(sc.Text()); m != nil {
				portc <- m[1]
			}
		}
	}()
	var port string
	select {
	case port = <-portc:
	case <-time.After(20 * time.Second):
		t.Fatalf("kubectl port-forward did not start: %s", errOut.String())
	}
	for i := range 2 {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("hello through the tunnel %d", i)
		_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
			t.Errorf("echo: %q %v (kubectl: %s)", got, err, errOut.String())
		}
		_ = conn.Close()
	}
	stop()
	if errOut.String() != "" {
		t.Errorf("kubectl port-forward printed errors: %s", errOut.String())
	}
}

func TestNodeProxyAndKubeletAuthz(t *testing.T) {
	e := startKubeletEnv(t)
	e.addPod(t, "web", []string{"app"}, "", sampleLog)
	ctx := ctxFor(t)
	body, err := e.cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/n1/proxy/pods").DoRaw(ctx)
	if err != nil || !strings.Contains(string(body), `"kind":"PodList"`) || !strings.Contains(string(body), `"name":"web"`) {
		t.Errorf("nodes/n1/proxy/pods: %v %s", err, body)
	}
	body, err = e.cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/n1/proxy/containerLogs/default/web/app").Param("tailLines", "1").DoRaw(ctx)
	if err != nil || string(body) != "third\n" {
		t.Errorf("nodes/n1/proxy/containerLogs: %v %q", err, body)
	}
	if _, err := e.cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/nope/proxy/pods").DoRaw(ctx); !apierrors.IsNotFound(err) {
		t.Errorf("proxy to an unknown node: %v", err)
	}

	// The kubelet serves the API server's identity, and no other user of
	// the cluster CA.
	for user, want := range map[string]int{"alice": http.StatusForbidden, "kube-apiserver-kubelet-client": http.StatusOK} {
		cert, key, err := auth.IssueClientCert(e.ca, user, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool(), Certificates: []tls.Certificate{pair}}}}
		resp, err := hc.Get("https://" + e.kubeletAddr + "/pods")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		hc.CloseIdleConnections()
		if resp.StatusCode != want {
			t.Errorf("kubelet /pods as %s: %d, want %d", user, resp.StatusCode, want)
		}
	}
}

// sizes is a TerminalSizeQueue with one size.
type sizes struct{ sent bool }

func (s *sizes) Next() *remotecommand.TerminalSize {
	if s.sent {
		return nil
	}
	s.sent = true
	return &remotecommand.TerminalSize{Width: 80, Height: 24}
}

func TestWebSocketExecWithTerminal(t *testing.T) {
	e := startKubeletEnv(t)
	e.addPod(t, "web", []string{"app"}, "", sampleLog)
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Host + "/api/v1/namespaces/default/pods/web/exec?command=upper&stdin=true&stdout=true&stderr=true&tty=true"
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = ex.StreamWithContext(ctxFor(t), remotecommand.StreamOptions{Stdin: strings.NewReader("quiet words\n"), Stdout: &out, Tty: true, TerminalSizeQueue: &sizes{}})
	if err != nil || out.String() != "QUIET WORDS\n" {
		t.Errorf("websocket exec with a terminal: %v %q", err, out.String())
	}
	if up := e.upgrades.take(); len(up) != 1 || up[0] != "websocket" {
		t.Errorf("upgrades %v", up)
	}
}

// lockedBuffer collects a running process's output safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
