package fake

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListContainers lists containers matching filter, oldest first.
func (r *Runtime) ListContainers(_ context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	r.refreshAll()
	var out []*runtimeapi.Container
	if filter == nil {
		out = make([]*runtimeapi.Container, 0, len(r.containerOrder))
	}
	for _, c := range candidates(r, filter.GetLabelSelector(), r.containerOrder, func(p *podObjects) []*container { return p.containers }) {
		if filter != nil {
			if filter.Id != "" && !hasPrefix(c.id, filter.Id) ||
				filter.PodSandboxId != "" && !hasPrefix(c.sandboxID, filter.PodSandboxId) ||
				filter.State != nil && filter.State.State != c.state ||
				!matchLabels(c.config.Labels, filter.LabelSelector) {
				continue
			}
		}
		out = append(out, c.view) // shared: see listing.go
	}
	return out, nil
}

// ContainerStatus reports a container's state, times, exit and mounts.
func (r *Runtime) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		return nil, err
	}
	r.refresh(c)
	mounts := make([]*runtimeapi.Mount, len(c.config.Mounts))
	for i, m := range c.config.Mounts {
		mounts[i] = proto.Clone(m).(*runtimeapi.Mount)
	}
	st := &runtimeapi.ContainerStatus{
		Id: c.id, Metadata: proto.Clone(c.config.Metadata).(*runtimeapi.ContainerMetadata),
		State: c.state, CreatedAt: c.createdAt, StartedAt: c.startedAt, FinishedAt: c.finishedAt,
		ExitCode: c.exitCode, Reason: c.reason,
		Image:    &runtimeapi.ImageSpec{Image: c.image.ref, UserSpecifiedImage: c.config.GetImage().GetUserSpecifiedImage()},
		ImageRef: c.image.repoDigest(), ImageId: c.image.id,
		Labels: copyMap(c.config.Labels), Annotations: copyMap(c.config.Annotations),
		Mounts: mounts, LogPath: c.logPath,
	}
	if c.resources != nil {
		st.Resources = &runtimeapi.ContainerResources{Linux: proto.Clone(c.resources).(*runtimeapi.LinuxContainerResources)}
	}
	return &runtimeapi.ContainerStatusResponse{Status: st}, nil
}

// UpdateContainerResources records new resources for a live container.
func (r *Runtime) UpdateContainerResources(_ context.Context, id string, res *runtimeapi.ContainerResources) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		return err
	}
	r.refresh(c)
	if c.state == runtimeapi.ContainerState_CONTAINER_EXITED {
		return status.Errorf(codes.Unknown, "container %q is in %s state", c.id, stateName(c.state))
	}
	if res.GetLinux() != nil {
		c.resources = proto.Clone(res.GetLinux()).(*runtimeapi.LinuxContainerResources)
	}
	return nil
}

// ContainerConfig returns a copy of the config a container was created
// with, for tests that check what a caller asked the runtime for.
func (r *Runtime) ContainerConfig(id string) (*runtimeapi.ContainerConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		return nil, false
	}
	return proto.Clone(c.config).(*runtimeapi.ContainerConfig), true
}
