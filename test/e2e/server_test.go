package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds how long a server may take to answer /readyz.
const readyTimeout = 60 * time.Second

// stopTimeout is how long a server gets after SIGTERM before SIGKILL.
const stopTimeout = 10 * time.Second

// server is one `skiff server` subprocess. Its ports and data dir stay the
// same across stop/start, so a restart finds its etcd data, certificates and
// kubeconfig again.
type server struct {
	bin      string
	dir      string // parent of dataDir; removed by the owner
	dataDir  string
	logPath  string // stdout and stderr of every run, appended
	cacheDir string // kubectl --cache-dir for this server
	// kubeconfigPath overrides <dataDir>/admin.kubeconfig (a cluster made
	// by `skiff cluster create` keeps the host's kubeconfig elsewhere).
	kubeconfigPath string

	port                 int
	etcdClient, etcdPeer string
	extraArgs            []string // per-test server flags

	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has been waited for
	waitErr error
}

// newServer picks free ports and lays out dir for a server; it starts
// nothing.
func newServer(bin, dir string) (*server, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	s := &server{
		bin:        bin,
		dir:        dir,
		dataDir:    filepath.Join(dir, "data"),
		logPath:    filepath.Join(dir, "server.log"),
		cacheDir:   filepath.Join(dir, "kubectl-cache"),
		port:       ports[0],
		etcdClient: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		etcdPeer:   fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
	}
	for _, d := range []string{s.dataDir, s.cacheDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// startNewServer starts a server in dir, retrying with other ports if the
// ones picked were taken in the meantime.
func startNewServer(bin, dir string, extraArgs ...string) (*server, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := newServer(bin, dir)
		if err != nil {
			return nil, err
		}
		s.extraArgs = extraArgs
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
		if s.running() {
			_ = s.stop()
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

// startTestServer starts a dedicated server for one test and stops it, and
// checks it stopped cleanly, when the test ends.
func startTestServer(t *testing.T, extraArgs ...string) *server {
	t.Helper()
	requireKubectl(t)
	s, err := startNewServer(skiffBin, t.TempDir(), extraArgs...)
	if err != nil {
		t.Fatalf("starting skiff server: %v", err)
	}
	t.Cleanup(func() {
		if s.running() {
			if err := s.stop(); err != nil {
				t.Errorf("stopping server: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("server log tail (%s):\n%s", s.logPath, s.logTail(60))
		}
	})
	return s
}

// URL is the server's API address.
func (s *server) URL() string { return fmt.Sprintf("https://127.0.0.1:%d", s.port) }

// kubeconfig is the admin kubeconfig the server writes on first start.
func (s *server) kubeconfig() string {
	if s.kubeconfigPath != "" {
		return s.kubeconfigPath
	}
	return filepath.Join(s.dataDir, "admin.kubeconfig")
}

func (s *server) args() []string {
	args := []string{"server",
		"--data-dir", s.dataDir,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(s.port),
		"--embedded-etcd-client-url", s.etcdClient,
		"--embedded-etcd-peer-url", s.etcdPeer,
		"--log-level", "warn",
		// Many servers run at once here: no registry port to share, and no
		// containers. Tests of nodes turn them back on in extraArgs.
		"--disable-registry", "--disable-agent", "--disable-dns",
	}
	args = append(args, s.extraArgs...)
	return append(args, strings.Fields(os.Getenv("SKIFF_E2E_SERVER_FLAGS"))...)
}

// start runs the binary and waits until /readyz answers 200 and the
// kubeconfig exists.
func (s *server) start() error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logFile, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(s.args(), " "))
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	s.cmd, s.done, s.waitErr = cmd, make(chan struct{}), nil
	go func() {
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.waitReady(readyTimeout); err != nil {
		return err
	}
	if _, err := os.Stat(s.kubeconfig()); err != nil {
		return fmt.Errorf("server ready but no kubeconfig: %w", err)
	}
	return nil
}

// waitReady polls /readyz. TLS verification is skipped for this probe only;
// kubectl verifies against the cluster CA in the kubeconfig.
func (s *server) waitReady(timeout time.Duration) error {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("server exited before ready (%v): %s\nlog tail:\n%s", s.waitErr, s.logTail(1), s.logTail(40))
		default:
		}
		resp, err := client.Get(s.URL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("server not ready after %v (last: %s); log tail:\n%s", timeout, last, s.logTail(40))
}

// running reports whether the subprocess has been started and not reaped.
func (s *server) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to stopTimeout, then SIGKILLs the process
// group. It returns an error if shutdown was not clean: the server had
// already exited, needed SIGKILL, exited non-zero, or left processes behind.
func (s *server) stop() error {
	if s.done == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	select {
	case <-s.done:
		return fmt.Errorf("server (pid %d) had already exited: %v", pid, s.waitErr)
	default:
	}
	var errs []error
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-s.done:
		if s.waitErr != nil {
			errs = append(errs, fmt.Errorf("server exited uncleanly after SIGTERM: %v", s.waitErr))
		}
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
		errs = append(errs, fmt.Errorf("server did not exit within %v of SIGTERM; killed", stopTimeout))
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		errs = append(errs, fmt.Errorf("process group %d still had processes after the server exited", pid))
	}
	return errors.Join(errs...)
}

// logTail returns the last n lines the server wrote.
func (s *server) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// logSize is the current length of the log, to print only what a test
// caused (see logSince).
func (s *server) logSize() int64 {
	fi, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns at most the last n lines written after offset.
func (s *server) logSince(offset int64, n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil || int64(len(b)) <= offset {
		return "(nothing)"
	}
	lines := strings.Split(strings.TrimRight(string(b[offset:]), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
