package streamtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultRun understands:
//
//	upper            stdin, upper-cased, to stdout; exit 0
//	echo ARGS...     ARGS joined by spaces and a newline to stdout
//	exit N [MSG...]  MSG to stderr, exit N
//	attach           "attached" to stdout, then stdin echoed to stdout
//
// Anything else writes "command not found" to stderr and exits 127.
func DefaultRun(cmd []string, stdin io.Reader, stdout, stderr io.Writer, _ <-chan TerminalSize) int {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = stdout // with a terminal, stderr is the terminal
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if len(cmd) == 0 {
		return 127
	}
	switch cmd[0] {
	case "upper":
		data, _ := io.ReadAll(stdin)
		_, _ = stdout.Write(bytes.ToUpper(data))
		return 0
	case "echo":
		fmt.Fprintln(stdout, strings.Join(cmd[1:], " "))
		return 0
	case "exit":
		code := 1
		if len(cmd) > 1 {
			code, _ = strconv.Atoi(cmd[1])
		}
		if len(cmd) > 2 {
			fmt.Fprintln(stderr, strings.Join(cmd[2:], " "))
		}
		return code
	case "attach":
		fmt.Fprintln(stdout, "attached")
		_, _ = io.Copy(stdout, stdin)
		return 0
	}
	fmt.Fprintf(stderr, "%s: command not found\n", cmd[0])
	return 127
}

// Runtime is the streaming part of a CRI runtime: containers are
// registered with SetContainer; Exec, Attach and PortForward return URLs
// on Streams. It satisfies the kubelet server's Runtime interface.
type Runtime struct {
	Streams *StreamServer

	mu         sync.Mutex
	containers map[string]*runtimeapi.ContainerStatus
	sandboxes  map[string]bool
}

// NewRuntime returns a Runtime serving streams from streams.
func NewRuntime(streams *StreamServer) *Runtime {
	return &Runtime{Streams: streams, containers: map[string]*runtimeapi.ContainerStatus{}, sandboxes: map[string]bool{}}
}

// SetContainer records (or updates) a container's state and log path.
func (r *Runtime) SetContainer(id string, state runtimeapi.ContainerState, logPath string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers[id] = &runtimeapi.ContainerStatus{Id: id, State: state, LogPath: logPath}
}

// SetSandbox records a ready sandbox.
func (r *Runtime) SetSandbox(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sandboxes[id] = true
}

func (r *Runtime) running(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return status.Errorf(codes.NotFound, "container %q not found", id)
	}
	if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return status.Errorf(codes.FailedPrecondition, "container %q is in %s state", id, c.State)
	}
	return nil
}

func (r *Runtime) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %q not found", id)
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{Id: c.Id, State: c.State, LogPath: c.LogPath}}, nil
}

func (r *Runtime) Exec(_ context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if err := r.running(req.ContainerId); err != nil {
		return nil, err
	}
	return &runtimeapi.ExecResponse{Url: r.Streams.ExecURL(req)}, nil
}

func (r *Runtime) Attach(_ context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if err := r.running(req.ContainerId); err != nil {
		return nil, err
	}
	return &runtimeapi.AttachResponse{Url: r.Streams.AttachURL(req)}, nil
}

func (r *Runtime) PortForward(_ context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	r.mu.Lock()
	ok := r.sandboxes[req.PodSandboxId]
	r.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "sandbox %q not found", req.PodSandboxId)
	}
	return &runtimeapi.PortForwardResponse{Url: r.Streams.PortForwardURL()}, nil
}

func (r *Runtime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, error) {
	if err := r.running(id); err != nil {
		return nil, nil, err
	}
	var stdout, stderr bytes.Buffer
	if code := r.Streams.Run(cmd, nil, &stdout, &stderr, nil); code != 0 {
		return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("command terminated with exit code %d", code)
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}
