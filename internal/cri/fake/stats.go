package fake

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Stats are zero: nothing runs, so nothing is used. They exist so that
// callers (the kubelet's summary API) see every live container.

// ContainerStats reports zero usage for an existing container.
func (r *Runtime) ContainerStats(_ context.Context, id string) (*runtimeapi.ContainerStats, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		return nil, err
	}
	return r.containerStats(c), nil
}

func (r *Runtime) containerStats(c *container) *runtimeapi.ContainerStats {
	now := r.clock.Now().UnixNano()
	return &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{Id: c.id, Metadata: c.config.Metadata, Labels: copyMap(c.config.Labels), Annotations: copyMap(c.config.Annotations)},
		Cpu:        &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{}},
		Memory:     &runtimeapi.MemoryUsage{Timestamp: now, WorkingSetBytes: &runtimeapi.UInt64Value{}},
	}
}

// ListContainerStats reports zero usage for the running containers.
func (r *Runtime) ListContainerStats(_ context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	out := []*runtimeapi.ContainerStats{}
	for _, c := range r.containers {
		r.refresh(c)
		if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING ||
			filter.GetId() != "" && c.id != filter.GetId() ||
			filter.GetPodSandboxId() != "" && c.sandboxID != filter.GetPodSandboxId() ||
			!matchLabels(c.config.Labels, filter.GetLabelSelector()) {
			continue
		}
		out = append(out, r.containerStats(c))
	}
	return out, nil
}

// PodSandboxStats reports zero usage for an existing sandbox.
func (r *Runtime) PodSandboxStats(_ context.Context, id string) (*runtimeapi.PodSandboxStats, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	sb, err := r.findSandbox(id)
	if err != nil {
		return nil, err
	}
	return r.sandboxStats(sb), nil
}

func (r *Runtime) sandboxStats(sb *sandbox) *runtimeapi.PodSandboxStats {
	stats := &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{Id: sb.id, Metadata: sb.config.Metadata, Labels: copyMap(sb.config.Labels), Annotations: copyMap(sb.config.Annotations)},
		Linux:      &runtimeapi.LinuxPodSandboxStats{},
	}
	for _, c := range r.containers {
		if c.sandboxID == sb.id && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			stats.Linux.Containers = append(stats.Linux.Containers, r.containerStats(c))
		}
	}
	return stats
}

// ListPodSandboxStats reports zero usage for the ready sandboxes.
func (r *Runtime) ListPodSandboxStats(_ context.Context, filter *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	out := []*runtimeapi.PodSandboxStats{}
	for _, sb := range r.sandboxes {
		if sb.state != runtimeapi.PodSandboxState_SANDBOX_READY ||
			filter.GetId() != "" && sb.id != filter.GetId() ||
			!matchLabels(sb.config.Labels, filter.GetLabelSelector()) {
			continue
		}
		out = append(out, r.sandboxStats(sb))
	}
	return out, nil
}

// ListMetricDescriptors reports none.
func (r *Runtime) ListMetricDescriptors(context.Context) ([]*runtimeapi.MetricDescriptor, error) {
	return []*runtimeapi.MetricDescriptor{}, nil
}

// ListPodSandboxMetrics reports none.
func (r *Runtime) ListPodSandboxMetrics(context.Context) ([]*runtimeapi.PodSandboxMetrics, error) {
	return []*runtimeapi.PodSandboxMetrics{}, nil
}
