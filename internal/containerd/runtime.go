package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"
)

// Supervision timing: a containerd that dies is started again after a
// delay that doubles from restartBackoffMin to restartBackoffMax, and
// falls back to the minimum once a process has stayed up for stableAfter.
const (
	restartBackoffMin = 200 * time.Millisecond
	restartBackoffMax = 30 * time.Second
	stableAfter       = time.Minute
)

// Runtime is a running, supervised containerd. Stop ends it; the
// containers it started keep running in their shims, so a later Start on
// the same Config picks them up again.
type Runtime struct {
	cfg        Config
	log        *slog.Logger
	restrict   bool
	readyAfter time.Duration

	stop chan struct{} // closed by Stop
	done chan struct{} // closed when supervision has ended

	mu       sync.Mutex
	proc     *process
	restarts int
	stopErr  error // set when Stop had to kill containerd
	stopOnce sync.Once
}

// Start writes containerd's config, launches it, and returns once its CRI
// socket answers Version with runtime API v1, or with an error (the tail
// of containerd's log included) when it cannot get there. ctx bounds only
// the start; the returned Runtime runs until Stop.
func Start(ctx context.Context, cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if _, err := exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("containerd: %q not found: %w", cfg.Binary, err)
	}
	if socketAnswers(cfg.Socket) {
		return nil, fmt.Errorf("containerd: something already serves %s; refusing to take its socket", cfg.Socket)
	}
	hasCap, err := HasCapSysResource()
	if err != nil {
		return nil, err
	}
	r := &Runtime{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "containerd"),
		restrict: !hasCap,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if r.restrict {
		r.log.Info("process lacks CAP_SYS_RESOURCE: containerd will not lower containers' oom_score_adj (restrict_oom_score_adj = true)")
	}
	if err := writeConfig(cfg, r.restrict); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	began := time.Now()
	p, err := r.launch(ctx)
	if err != nil {
		return nil, err
	}
	r.readyAfter = time.Since(began)
	r.proc = p
	r.log.Info("containerd ready", "socket", cfg.Socket, "pid", p.cmd.Process.Pid, "after", r.readyAfter.Round(time.Millisecond))
	go r.supervise(p)
	return r, nil
}

// Endpoint is the CRI endpoint to cri.Dial.
func (r *Runtime) Endpoint() string { return "unix://" + r.cfg.Socket }

// Config is the configuration r runs with, defaults filled in.
func (r *Runtime) Config() Config { return r.cfg }

// ReadyAfter is how long the first start took from launch to a CRI
// socket answering Version.
func (r *Runtime) ReadyAfter() time.Duration { return r.readyAfter }

// RestrictsOOMScoreAdj reports whether containerd was configured not to
// lower containers' OOM scores (the process lacks CAP_SYS_RESOURCE).
func (r *Runtime) RestrictsOOMScoreAdj() bool { return r.restrict }

// Pid is the current containerd process's ID; 0 while it restarts and
// after Stop.
func (r *Runtime) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return 0
	}
	return r.proc.cmd.Process.Pid
}

// Restarts counts how often supervision started containerd again.
func (r *Runtime) Restarts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.restarts
}

// Done is closed when supervision has ended: after Stop.
func (r *Runtime) Done() <-chan struct{} { return r.done }

// Stop ends supervision and containerd: SIGTERM, then SIGKILL after
// StopTimeout, which Stop reports as an error. Containers keep running in
// their shims. Calling it again is harmless.
func (r *Runtime) Stop() error {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopErr
}

// supervise restarts containerd whenever it exits until Stop.
func (r *Runtime) supervise(p *process) {
	defer close(r.done)
	backoff := restartBackoffMin
	for {
		select {
		case <-r.stop:
			if !terminate(p, r.cfg.StopTimeout) {
				r.mu.Lock()
				r.stopErr = fmt.Errorf("containerd: pid %d ignored SIGTERM for %v and was killed", p.cmd.Process.Pid, r.cfg.StopTimeout)
				r.mu.Unlock()
			}
			r.mu.Lock()
			r.proc = nil
			r.mu.Unlock()
			r.log.Info("containerd stopped", "pid", p.cmd.Process.Pid)
			return
		case <-p.exited:
		}
		r.mu.Lock()
		r.proc = nil
		r.mu.Unlock()
		if time.Since(p.started) > stableAfter {
			backoff = restartBackoffMin
		}
		r.log.Warn("containerd exited; restarting", "pid", p.cmd.Process.Pid, "error", p.err, "in", backoff, "log", r.cfg.LogPath())
		for {
			next, err := r.restartAfter(backoff)
			backoff = min(2*backoff, restartBackoffMax)
			if errors.Is(err, errStopping) {
				return
			}
			if err == nil {
				p = next
				break
			}
			r.log.Error("containerd restart failed", "error", err, "retry in", backoff)
		}
	}
}

var errStopping = errors.New("stopping")

// restartAfter waits d (or Stop), then launches containerd again.
func (r *Runtime) restartAfter(d time.Duration) (*process, error) {
	select {
	case <-r.stop:
		return nil, errStopping
	case <-time.After(d):
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.StartTimeout)
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	began := time.Now()
	p, err := r.launch(ctx)
	if err != nil {
		select {
		case <-r.stop:
			return nil, errStopping
		default:
			return nil, err
		}
	}
	r.mu.Lock()
	r.proc = p
	r.restarts++
	r.mu.Unlock()
	r.log.Info("containerd ready again", "pid", p.cmd.Process.Pid, "after", time.Since(began).Round(time.Millisecond))
	return p, nil
}
