package critest

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	criapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Labels the suite puts on its objects.
const (
	runLabel  = "critest.skiff.sh/run"
	testLabel = "critest.skiff.sh/test"
	namespace = "critest"
)

// harness is one subtest's view of the runtime.
type harness struct {
	t     *testing.T
	ctx   context.Context
	rt    criapi.RuntimeService
	img   criapi.ImageManagerService
	opts  Options
	runID string
}

// pod is a sandbox the suite ran.
type pod struct {
	id     string
	config *runtimeapi.PodSandboxConfig
	logDir string
}

// sandboxConfig returns a config for a sandbox named name, with the
// suite's labels plus extra.
func (h *harness) sandboxConfig(name string, extra map[string]string) *runtimeapi.PodSandboxConfig {
	uid := randomID(8)
	labels := map[string]string{runLabel: h.runID, testLabel: h.testName()}
	for k, v := range extra {
		labels[k] = v
	}
	network := runtimeapi.NamespaceMode_POD
	if h.opts.HostNetwork {
		network = runtimeapi.NamespaceMode_NODE
	}
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Uid: uid, Namespace: namespace},
		Hostname:     name,
		LogDirectory: h.t.TempDir(),
		Labels:       labels,
		Annotations:  map[string]string{"critest.skiff.sh/note": "made by the CRI suite"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{
					Network: network,
					Pid:     runtimeapi.NamespaceMode_CONTAINER,
					Ipc:     runtimeapi.NamespaceMode_POD,
				},
			},
		},
	}
	if h.opts.HostNetwork {
		// The node's UTS namespace comes with its network namespace, and
		// the kubelet sends no hostname then: runc refuses to set one.
		cfg.Hostname = ""
	}
	if h.opts.CgroupParent != "" {
		cfg.Linux.CgroupParent = path.Join(h.opts.CgroupParent, "pod"+uid)
	}
	return cfg
}

// runSandbox runs a sandbox and removes it when the subtest ends.
func (h *harness) runSandbox(name string, labels map[string]string) *pod {
	h.t.Helper()
	cfg := h.sandboxConfig(name, labels)
	start := time.Now()
	id, err := h.rt.RunPodSandbox(h.ctx, cfg, h.opts.RuntimeHandler)
	if err != nil {
		h.t.Fatalf("RunPodSandbox %s: %v", name, err)
	}
	h.t.Logf("RunPodSandbox %s: %v", name, time.Since(start).Round(time.Millisecond))
	h.t.Cleanup(func() { h.removeSandbox(id) })
	return &pod{id: id, config: cfg, logDir: cfg.LogDirectory}
}

// removeSandbox stops and removes a sandbox, failing the test on errors
// other than its being gone already.
func (h *harness) removeSandbox(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.rt.StopPodSandbox(ctx, id); err != nil && !isNotFound(err) {
		h.t.Errorf("cleanup: StopPodSandbox %s: %v", id, err)
	}
	if err := h.rt.RemovePodSandbox(ctx, id); err != nil && !isNotFound(err) {
		h.t.Errorf("cleanup: RemovePodSandbox %s: %v", id, err)
	}
}

// containerConfig returns a config for a container running argv, logging
// to <name>/0.log in the sandbox's log directory.
func (h *harness) containerConfig(p *pod, name string, argv ...string) *runtimeapi.ContainerConfig {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Join(p.logDir, name), 0o755); err != nil {
		h.t.Fatal(err)
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: h.opts.Image},
		Labels:   map[string]string{runLabel: h.runID, testLabel: h.testName()},
		LogPath:  filepath.Join(name, "0.log"),
		Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: p.config.Linux.SecurityContext.NamespaceOptions,
			},
		},
	}
	if len(argv) > 0 {
		cfg.Command = argv
	}
	return cfg
}

// createContainer creates a container from cfg in p.
func (h *harness) createContainer(p *pod, cfg *runtimeapi.ContainerConfig) string {
	h.t.Helper()
	id, err := h.rt.CreateContainer(h.ctx, p.id, cfg, p.config)
	if err != nil {
		h.t.Fatalf("CreateContainer %s: %v", cfg.Metadata.Name, err)
	}
	return id
}

// startContainer creates and starts a container running argv in p.
func (h *harness) startContainer(p *pod, name string, argv ...string) string {
	h.t.Helper()
	start := time.Now()
	id := h.createContainer(p, h.containerConfig(p, name, argv...))
	if err := h.rt.StartContainer(h.ctx, id); err != nil {
		h.t.Fatalf("StartContainer %s: %v", name, err)
	}
	h.t.Logf("CreateContainer+StartContainer %s: %v", name, time.Since(start).Round(time.Millisecond))
	return id
}

// status returns a container's status.
func (h *harness) status(id string) *runtimeapi.ContainerStatus {
	h.t.Helper()
	resp, err := h.rt.ContainerStatus(h.ctx, id, false)
	if err != nil {
		h.t.Fatalf("ContainerStatus %s: %v", id, err)
	}
	return resp.Status
}

// waitState waits up to 30s for a container to reach state.
func (h *harness) waitState(id string, state runtimeapi.ContainerState) *runtimeapi.ContainerStatus {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := h.status(id)
		if st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("container %s is %v after 30s, want %v", id, st.State, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ownSandboxes lists this run's sandboxes.
func (h *harness) ownSandboxes() []*runtimeapi.PodSandbox {
	h.t.Helper()
	sbs, err := h.rt.ListPodSandbox(h.ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{runLabel: h.runID}})
	if err != nil {
		h.t.Fatalf("ListPodSandbox: %v", err)
	}
	return sbs
}

// testName is the subtest's name, usable as a label value.
func (h *harness) testName() string {
	return path.Base(h.t.Name())
}
