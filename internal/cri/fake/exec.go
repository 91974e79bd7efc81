package fake

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"
)

// ExecHandler answers ExecSync for a running container: its output and
// exit code. containerID is the runtime's id; image is the container's
// normalized image reference.
type ExecHandler func(containerID, image string, cmd []string) (stdout, stderr []byte, exitCode int32)

// SetExecHandler replaces how ExecSync answers (nil: the default, which
// reads cmd like a container command: `sh -c "exit 1"` fails with 1,
// `echo hi` prints hi, anything else succeeds with no output).
func (r *Runtime) SetExecHandler(h ExecHandler) {
	r.mu.Lock()
	r.exec = h
	r.mu.Unlock()
}

// ExecSync runs cmd in a running container through the exec handler. A
// non-zero exit code comes back as a utilexec.CodeExitError, as from the
// real CRI client.
func (r *Runtime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, error) {
	if len(cmd) == 0 {
		return nil, nil, status.Error(codes.InvalidArgument, "cmd must not be empty")
	}
	if err := r.lock(); err != nil {
		return nil, nil, err
	}
	c, err := r.findContainer(id)
	if err != nil {
		r.mu.Unlock()
		return nil, nil, err
	}
	r.refresh(c)
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.mu.Unlock()
		return nil, nil, status.Errorf(codes.Unknown, "container %q is not running", c.id)
	}
	handler, cid, ref := r.exec, c.id, c.image.ref
	r.mu.Unlock()
	if handler == nil {
		handler = defaultExec
	}
	stdout, stderr, code := handler(cid, ref, cmd)
	if code != 0 {
		return stdout, stderr, utilexec.CodeExitError{
			Err:  fmt.Errorf("command '%s' exited with %d: %s", strings.Join(cmd, " "), code, stderr),
			Code: int(code),
		}
	}
	return stdout, stderr, nil
}

func defaultExec(_, _ string, cmd []string) ([]byte, []byte, int32) {
	b := behaviourOf(cmd)
	var out []byte
	if len(b.Output) > 0 {
		out = []byte(strings.Join(b.Output, "\n") + "\n")
	}
	if b.Forever {
		return out, nil, 0
	}
	return out, nil, b.ExitCode
}

// The streaming calls need a streaming server, which the fake has not.

func (r *Runtime) Exec(context.Context, *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return nil, unimplemented("Exec")
}

func (r *Runtime) Attach(context.Context, *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return nil, unimplemented("Attach")
}

func (r *Runtime) PortForward(context.Context, *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return nil, unimplemented("PortForward")
}

// ReopenContainerLog succeeds for a running container.
func (r *Runtime) ReopenContainerLog(_ context.Context, id string) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		return err
	}
	r.refresh(c)
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return status.Errorf(codes.Unknown, "container %q is not running", c.id)
	}
	return nil
}

func (r *Runtime) CheckpointContainer(context.Context, *runtimeapi.CheckpointContainerRequest) error {
	return unimplemented("CheckpointContainer")
}

func (r *Runtime) CheckpointPod(context.Context, *runtimeapi.CheckpointPodRequest) error {
	return unimplemented("CheckpointPod")
}

func (r *Runtime) RestorePod(context.Context, *runtimeapi.RestorePodRequest) (*runtimeapi.RestorePodResponse, error) {
	return nil, unimplemented("RestorePod")
}

// GetContainerEvents is unimplemented, as in containerd 1.6: callers
// fall back to relisting.
func (r *Runtime) GetContainerEvents(context.Context, chan *runtimeapi.ContainerEventResponse, func(runtimeapi.RuntimeService_GetContainerEventsClient)) error {
	return unimplemented("GetContainerEvents")
}

func (r *Runtime) UpdatePodSandboxResources(context.Context, *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	return &runtimeapi.UpdatePodSandboxResourcesResponse{}, nil
}

func unimplemented(method string) error {
	return status.Errorf(codes.Unimplemented, "fake runtime does not implement %s", method)
}
