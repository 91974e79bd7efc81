package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kubectlTimeout bounds one kubectl call unless the call says otherwise.
const kubectlTimeout = 30 * time.Second

// kubectlPath is the kubectl found on PATH; empty means the package skips.
var kubectlPath string

// requireKubectl is the one gate of this tier: it skips t, with the reason,
// when the machine lacks what the tests need.
func requireKubectl(t *testing.T) {
	t.Helper()
	if kubectlPath == "" {
		t.Skip("e2e: kubectl is not on PATH; install kubectl (v1.32) to run the e2e tier")
	}
	if skiffBin == "" {
		t.Skip("e2e: no skiff binary (set SKIFF_BIN or let TestMain build ./cmd/skiff)")
	}
}

// runOpts changes how one kubectl call runs.
type runOpts struct {
	env     []string      // extra KEY=VALUE entries
	timeout time.Duration // default kubectlTimeout
}

// kubectl runs kubectl against the shared server.
func kubectl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return sharedServer(t).kubectl(t, args...)
}

// mustKubectl runs kubectl against the shared server and fails t unless it
// succeeds; it returns stdout.
func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	return sharedServer(t).mustKubectl(t, args...)
}

// kubectl runs kubectl against s.
func (s *server) kubectl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return s.kubectlWith(t, runOpts{}, args...)
}

// mustKubectl runs kubectl against s and fails t unless it succeeds.
func (s *server) mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := s.kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// kubectlWith runs kubectl against s with KUBECONFIG pointing at its admin
// kubeconfig and a discovery cache of its own; the rest of the environment
// is passed on unchanged.
func (s *server) kubectlWith(t *testing.T, o runOpts, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = kubectlTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := s.kubectlCmd(ctx, o, args...)
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	t.Logf("kubectl %s (%v, err=%v)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err)
	return outBuf.String(), errBuf.String(), err
}

// kubectlCmd builds the command; it runs in its own process group, killed
// as a whole when ctx ends (the installed kubectl may be a dispatcher that
// runs the real one as a child).
func (s *server) kubectlCmd(ctx context.Context, o runOpts, args ...string) *exec.Cmd {
	full := append([]string{"--cache-dir", s.cacheDir}, args...)
	cmd := exec.CommandContext(ctx, kubectlPath, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig())
	cmd.Env = append(cmd.Env, o.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// background is a kubectl running while the test does other things.
type background struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	mu     sync.Mutex
	out    bytes.Buffer
	errOut bytes.Buffer
	done   chan struct{}
	err    error
}

// startKubectl starts kubectl against the shared server in the background.
// It is killed when it outlives timeout or the test.
func startKubectl(t *testing.T, timeout time.Duration, args ...string) *background {
	t.Helper()
	s := sharedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	b := &background{cmd: s.kubectlCmd(ctx, runOpts{}, args...), cancel: cancel, done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = lockedWriter{&b.mu, &b.out}, lockedWriter{&b.mu, &b.errOut}
	if err := b.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting kubectl %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("kubectl %s (started in background)", strings.Join(args, " "))
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() { b.cancel(); <-b.done })
	return b
}

// stdout returns what the command printed so far.
func (b *background) stdout() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

func (b *background) stderr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.errOut.String()
}

// wait waits for the command to exit, at most d; exited is false on
// timeout.
func (b *background) wait(d time.Duration) (exited bool, err error) {
	select {
	case <-b.done:
		return true, b.err
	case <-time.After(d):
		return false, nil
	}
}

// waitOutput polls until cond holds for stdout, at most d.
func (b *background) waitOutput(d time.Duration, cond func(stdout string) bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond(b.stdout()) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond(b.stdout())
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newNamespace creates namespace e2e-<name> on the shared server and
// deletes it (without waiting: no namespace controller finishes it yet)
// when the test ends.
func newNamespace(t *testing.T, name string) string {
	t.Helper()
	useShared(t)
	ns := "e2e-" + name
	mustKubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		if _, errOut, err := kubectl(t, "delete", "namespace", ns, "--wait=false"); err != nil {
			t.Logf("deleting namespace %s: %v: %s", ns, err, errOut)
		}
	})
	return ns
}

// writeFile writes content to name in a per-test temp dir and returns the
// path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// jsonpath returns `kubectl get <args> -o jsonpath=<expr>`.
func jsonpath(t *testing.T, expr string, args ...string) string {
	t.Helper()
	return mustKubectl(t, append(append([]string{"get"}, args...), "-o", "jsonpath="+expr)...)
}
