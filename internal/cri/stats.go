package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerStats returns one container's resource usage.
func (r *Remote) ContainerStats(ctx context.Context, containerID string) (*runtimeapi.ContainerStats, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: containerID})
	if err != nil {
		return nil, r.wrap("ContainerStats", containerID, err)
	}
	return resp.Stats, nil
}

// ListContainerStats returns the resource usage of containers matching
// filter (nil: all running).
func (r *Remote) ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: filter})
	if err != nil {
		return nil, r.wrap("ListContainerStats", "", err)
	}
	return resp.Stats, nil
}

// PodSandboxStats returns one sandbox's resource usage.
func (r *Remote) PodSandboxStats(ctx context.Context, podSandboxID string) (*runtimeapi.PodSandboxStats, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: podSandboxID})
	if err != nil {
		return nil, r.wrap("PodSandboxStats", podSandboxID, err)
	}
	return resp.Stats, nil
}

// ListPodSandboxStats returns the resource usage of sandboxes matching
// filter (nil: all).
func (r *Remote) ListPodSandboxStats(ctx context.Context, filter *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: filter})
	if err != nil {
		return nil, r.wrap("ListPodSandboxStats", "", err)
	}
	return resp.Stats, nil
}

// ListMetricDescriptors describes the metrics ListPodSandboxMetrics
// returns. Older runtimes answer Unimplemented.
func (r *Remote) ListMetricDescriptors(ctx context.Context) ([]*runtimeapi.MetricDescriptor, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ListMetricDescriptors(ctx, &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil {
		return nil, r.wrap("ListMetricDescriptors", "", err)
	}
	return resp.Descriptors, nil
}

// ListPodSandboxMetrics returns the runtime's per-pod metrics. Older
// runtimes answer Unimplemented.
func (r *Remote) ListPodSandboxMetrics(ctx context.Context) ([]*runtimeapi.PodSandboxMetrics, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil {
		return nil, r.wrap("ListPodSandboxMetrics", "", err)
	}
	return resp.PodMetrics, nil
}
