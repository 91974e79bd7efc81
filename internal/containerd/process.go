package containerd

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/internal/cri"
)

// This file runs one containerd process: launch, readiness, termination.

// Readiness polling: how often to look for the socket, and how long one
// CRI probe may take.
const (
	socketPollEvery = 20 * time.Millisecond
	probeTimeout    = 5 * time.Second
)

// process is one containerd child and the channel its exit arrives on.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once Wait returned; err is then set
	err     error
	started time.Time
}

// launch starts one containerd process and waits for it to be ready,
// killing it again if it is not by ctx's end.
func (r *Runtime) launch(ctx context.Context) (*process, error) {
	logFile, err := os.OpenFile(r.cfg.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd: opening log: %w", err)
	}
	defer logFile.Close() // the child has its own copy
	logStart, _ := logFile.Seek(0, io.SeekEnd)

	cmd := exec.Command(r.cfg.Binary, "--config", r.cfg.ConfigPath())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = childEnv()
	cmd.Dir = r.cfg.Dir()
	// Its own process group keeps a terminal's ^C away from it; the
	// parent-death signal ends it if skiff dies without Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("containerd: starting %s: %w", r.cfg.Binary, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), started: time.Now()}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := waitReady(ctx, r.cfg.Socket, p); err != nil {
		terminate(p, r.cfg.StopTimeout)
		return nil, fmt.Errorf("containerd: not ready: %w%s", err, logTail(r.cfg.LogPath(), logStart))
	}
	return p, nil
}

// waitReady polls until the socket serves CRI v1. containerd listens
// before its CRI plugin has recovered existing sandboxes and answers
// "server is not initialized yet" meanwhile, so errors are retried; only
// an Unimplemented CRI (the plugin failed to load) or the process exiting
// ends the wait early.
func waitReady(ctx context.Context, socket string, p *process) error {
	tick := time.NewTicker(socketPollEvery)
	defer tick.Stop()
	var last error
	for {
		if socketAnswers(socket) {
			last = probeCRI(ctx, socket)
			if last == nil || cri.IsUnimplemented(last) {
				return last
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited: %v", p.err)
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			}
			return fmt.Errorf("socket %s: %w", socket, ctx.Err())
		case <-tick.C:
		}
	}
}

// probeCRI dials the socket once and checks its CRI version.
func probeCRI(ctx context.Context, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	client, err := cri.Dial(ctx, "unix://"+socket)
	if err != nil {
		return err
	}
	return client.Close(ctx)
}

// terminate sends SIGTERM, then SIGKILL after timeout, and waits for the
// process to exit; it reports whether SIGTERM sufficed. Only containerd
// itself is signalled, never its group: shims must outlive it.
func terminate(p *process, timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return false
	}
}

// socketAnswers reports whether a unix socket accepts connections.
func socketAnswers(path string) bool {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// childEnv is skiff's environment with a PATH that reaches runc and the
// shim in the usual system directories even when skiff's own PATH lacks
// the sbin ones.
func childEnv() []string {
	env := os.Environ()
	path := os.Getenv("PATH")
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !pathHas(path, dir) {
			if path != "" {
				path += ":"
			}
			path += dir
		}
	}
	return append(env, "PATH="+path)
}

func pathHas(path, dir string) bool {
	for _, d := range filepath.SplitList(path) {
		if d == dir {
			return true
		}
	}
	return false
}

// logTail returns the end of containerd's log written since offset, for
// error messages: containerd says there why it could not start.
func logTail(path string, offset int64) string {
	const max = 2048
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) <= offset {
		return ""
	}
	data = data[offset:]
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return "\ncontainerd log (" + path + "):\n" + string(data)
}
