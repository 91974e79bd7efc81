package cri

import (
	"context"
	"errors"
	"io"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CreateContainer creates a container in a sandbox and returns its ID;
// sandboxConfig is the config the sandbox was run with.
func (r *Remote) CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  podSandboxID,
		Config:        config,
		SandboxConfig: sandboxConfig,
	})
	subject := podSandboxID + "/" + config.GetMetadata().GetName()
	if err != nil {
		return "", r.wrap("CreateContainer", subject, err)
	}
	if resp.ContainerId == "" {
		return "", errNilResponse("container ID from CreateContainer for " + subject)
	}
	return resp.ContainerId, nil
}

// StartContainer starts a created container.
func (r *Remote) StartContainer(ctx context.Context, containerID string) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: containerID})
	return r.wrap("StartContainer", containerID, err)
}

// StopContainer stops a container, killing it timeout seconds after the
// stop signal; the call may take that long on top of the usual timeout.
func (r *Remote) StopContainer(ctx context.Context, containerID string, timeout int64) error {
	ctx, cancel := r.callCtx(ctx, time.Duration(timeout)*time.Second)
	defer cancel()
	_, err := r.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: containerID, Timeout: timeout})
	return r.wrap("StopContainer", containerID, err)
}

// RemoveContainer removes a container, killing it first if it runs.
func (r *Remote) RemoveContainer(ctx context.Context, containerID string) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: containerID})
	return r.wrap("RemoveContainer", containerID, err)
}

// ListContainers lists containers matching filter (nil: all).
func (r *Remote) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: filter})
	if err != nil {
		return nil, r.wrap("ListContainers", "", err)
	}
	return resp.Containers, nil
}

// ContainerStatus returns a container's status; verbose adds the
// runtime's free-form Info.
func (r *Remote) ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: containerID, Verbose: verbose})
	if err != nil {
		return nil, r.wrap("ContainerStatus", containerID, err)
	}
	if resp.Status == nil {
		return nil, errNilResponse("status for container " + containerID)
	}
	return resp, nil
}

// UpdateContainerResources changes a running container's resources.
func (r *Remote) UpdateContainerResources(ctx context.Context, containerID string, resources *runtimeapi.ContainerResources) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: containerID,
		Linux:       resources.GetLinux(),
		Windows:     resources.GetWindows(),
	})
	return r.wrap("UpdateContainerResources", containerID, err)
}

// ExecSync runs cmd in the container and returns its output. A command
// that exits non-zero returns its output and an *ExitError; timeout 0
// means no limit but ctx's.
func (r *Remote) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) ([]byte, []byte, error) {
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = r.callCtx(ctx, timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	seconds := int64(timeout / time.Second)
	if timeout > 0 && seconds == 0 {
		seconds = 1 // CRI counts whole seconds; do not turn 500ms into "forever"
	}
	resp, err := r.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: containerID, Cmd: cmd, Timeout: seconds})
	if err != nil {
		return nil, nil, r.wrap("ExecSync", containerID, err)
	}
	if resp.ExitCode != 0 {
		return resp.Stdout, resp.Stderr, &ExitError{Code: resp.ExitCode}
	}
	return resp.Stdout, resp.Stderr, nil
}

// Exec returns the streaming URL for an interactive exec session.
func (r *Remote) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.Exec(ctx, req)
	if err != nil {
		return nil, r.wrap("Exec", req.GetContainerId(), err)
	}
	if resp.Url == "" {
		return nil, errNilResponse("URL from Exec for container " + req.GetContainerId())
	}
	return resp, nil
}

// Attach returns the streaming URL for attaching to a container.
func (r *Remote) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.Attach(ctx, req)
	if err != nil {
		return nil, r.wrap("Attach", req.GetContainerId(), err)
	}
	if resp.Url == "" {
		return nil, errNilResponse("URL from Attach for container " + req.GetContainerId())
	}
	return resp, nil
}

// ReopenContainerLog makes the runtime reopen a container's log file
// after the kubelet rotated it.
func (r *Remote) ReopenContainerLog(ctx context.Context, containerID string) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: containerID})
	return r.wrap("ReopenContainerLog", containerID, err)
}

// CheckpointContainer checkpoints a container (few runtimes implement
// it). The request's own Timeout, in seconds, extends the call's.
func (r *Remote) CheckpointContainer(ctx context.Context, req *runtimeapi.CheckpointContainerRequest) error {
	ctx, cancel := r.callCtx(ctx, time.Duration(req.GetTimeout())*time.Second)
	defer cancel()
	_, err := r.runtime.CheckpointContainer(ctx, req)
	return r.wrap("CheckpointContainer", req.GetContainerId(), err)
}

// GetContainerEvents streams container events into ch until ctx ends or
// the stream breaks; established, if set, is called once the stream is
// open. It returns nil when the runtime ends the stream. Runtimes without
// events (containerd 1.6) fail with Unimplemented, which IsUnimplemented
// detects: callers then fall back to relisting.
func (r *Remote) GetContainerEvents(ctx context.Context, ch chan *runtimeapi.ContainerEventResponse, established func(runtimeapi.RuntimeService_GetContainerEventsClient)) error {
	stream, err := r.runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		return r.wrap("GetContainerEvents", "", err)
	}
	if established != nil {
		established(stream)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return r.wrap("GetContainerEvents", "", err)
		}
		if ev == nil {
			continue
		}
		select {
		case ch <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
