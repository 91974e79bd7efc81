package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Version asks the runtime for its name and version; apiVersion is the
// client's CRI version (APIVersion).
func (r *Remote) Version(ctx context.Context, apiVersion string) (*runtimeapi.VersionResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.Version(ctx, &runtimeapi.VersionRequest{Version: apiVersion})
	return resp, r.wrap("Version", "", err)
}

// RunPodSandbox creates and starts a sandbox and returns its ID. Pulling
// the sandbox image may be part of it, so slow registries show up here.
func (r *Remote) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: config, RuntimeHandler: runtimeHandler})
	if err != nil {
		return "", r.wrap("RunPodSandbox", sandboxName(config), err)
	}
	if resp.PodSandboxId == "" {
		return "", errNilResponse("sandbox ID from RunPodSandbox for " + sandboxName(config))
	}
	return resp.PodSandboxId, nil
}

// StopPodSandbox stops the sandbox and kills its containers.
func (r *Remote) StopPodSandbox(ctx context.Context, podSandboxID string) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podSandboxID})
	return r.wrap("StopPodSandbox", podSandboxID, err)
}

// RemovePodSandbox removes the sandbox and, forcibly, its containers.
func (r *Remote) RemovePodSandbox(ctx context.Context, podSandboxID string) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podSandboxID})
	return r.wrap("RemovePodSandbox", podSandboxID, err)
}

// PodSandboxStatus returns the sandbox's status; verbose adds the
// runtime's free-form Info.
func (r *Remote) PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podSandboxID, Verbose: verbose})
	if err != nil {
		return nil, r.wrap("PodSandboxStatus", podSandboxID, err)
	}
	if resp.Status == nil {
		return nil, errNilResponse("status for sandbox " + podSandboxID)
	}
	return resp, nil
}

// ListPodSandbox lists sandboxes matching filter (nil: all).
func (r *Remote) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: filter})
	if err != nil {
		return nil, r.wrap("ListPodSandbox", "", err)
	}
	return resp.Items, nil
}

// PortForward returns the streaming URL for a port-forward session.
func (r *Remote) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.PortForward(ctx, req)
	if err != nil {
		return nil, r.wrap("PortForward", req.GetPodSandboxId(), err)
	}
	if resp.Url == "" {
		return nil, errNilResponse("URL from PortForward for sandbox " + req.GetPodSandboxId())
	}
	return resp, nil
}

// UpdatePodSandboxResources passes pod-level resources to the runtime
// after the kubelet resized the pod's cgroup. Runtimes older than the
// call answer Unimplemented, which callers treat as best effort.
func (r *Remote) UpdatePodSandboxResources(ctx context.Context, req *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.UpdatePodSandboxResources(ctx, req)
	return resp, r.wrap("UpdatePodSandboxResources", req.GetPodSandboxId(), err)
}

// CheckpointPod checkpoints a sandbox (few runtimes implement it).
func (r *Remote) CheckpointPod(ctx context.Context, req *runtimeapi.CheckpointPodRequest) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.CheckpointPod(ctx, req)
	return r.wrap("CheckpointPod", req.GetPodSandboxId(), err)
}

// RestorePod restores a sandbox from a checkpoint (few runtimes implement
// it).
func (r *Remote) RestorePod(ctx context.Context, req *runtimeapi.RestorePodRequest) (*runtimeapi.RestorePodResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.RestorePod(ctx, req)
	return resp, r.wrap("RestorePod", req.GetCheckpointPath(), err)
}

// UpdateRuntimeConfig passes runtime-wide settings (the pod CIDR).
func (r *Remote) UpdateRuntimeConfig(ctx context.Context, runtimeConfig *runtimeapi.RuntimeConfig) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.runtime.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: runtimeConfig})
	return r.wrap("UpdateRuntimeConfig", "", err)
}

// Status reports the runtime's conditions (RuntimeReady, NetworkReady).
func (r *Remote) Status(ctx context.Context, verbose bool) (*runtimeapi.StatusResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.Status(ctx, &runtimeapi.StatusRequest{Verbose: verbose})
	if err != nil {
		return nil, r.wrap("Status", "", err)
	}
	if resp.Status == nil {
		return nil, errNilResponse("runtime status")
	}
	return resp, nil
}

// RuntimeConfig returns the runtime's configuration as the kubelet needs
// it (cgroup driver). Older runtimes answer Unimplemented.
func (r *Remote) RuntimeConfig(ctx context.Context) (*runtimeapi.RuntimeConfigResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.runtime.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
	return resp, r.wrap("RuntimeConfig", "", err)
}

// sandboxName names a sandbox config in errors as namespace/name.
func sandboxName(config *runtimeapi.PodSandboxConfig) string {
	md := config.GetMetadata()
	if md == nil {
		return "(no metadata)"
	}
	return md.Namespace + "/" + md.Name
}
