package critest

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func testSandboxLifecycle(h *harness) {
	p := h.runSandbox("lifecycle", map[string]string{"tier": "one"})
	other := h.runSandbox("other", map[string]string{"tier": "two"})

	st, err := h.rt.PodSandboxStatus(h.ctx, p.id, false)
	if err != nil {
		h.t.Fatalf("PodSandboxStatus: %v", err)
	}
	s := st.Status
	if s.Id != p.id || s.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		h.t.Fatalf("sandbox status %s %v, want %s READY", s.Id, s.State, p.id)
	}
	md := p.config.Metadata
	if s.Metadata.GetName() != md.Name || s.Metadata.GetUid() != md.Uid || s.Metadata.GetNamespace() != md.Namespace {
		h.t.Errorf("sandbox metadata %+v, want %+v", s.Metadata, md)
	}
	if s.Labels["tier"] != "one" || s.Annotations["critest.skiff.sh/note"] == "" || s.CreatedAt == 0 {
		h.t.Errorf("sandbox status lost labels, annotations or creation time: %+v", s)
	}
	wantNet := p.config.Linux.SecurityContext.NamespaceOptions.Network
	if got := s.GetLinux().GetNamespaces().GetOptions().GetNetwork(); got != wantNet {
		h.t.Errorf("sandbox network namespace mode %v, want %v", got, wantNet)
	}
	if wantNet == runtimeapi.NamespaceMode_POD && s.GetNetwork().GetIp() == "" {
		h.t.Errorf("sandbox with its own network namespace has no IP")
	}

	h.expectSandboxes("label tier=one", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{runLabel: h.runID, "tier": "one"}}, p.id)
	h.expectSandboxes("id", &runtimeapi.PodSandboxFilter{Id: other.id}, other.id)
	ready := &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{runLabel: h.runID, testLabel: h.testName()},
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
	}
	h.expectSandboxes("ready", ready, p.id, other.id)

	if err := h.rt.StopPodSandbox(h.ctx, p.id); err != nil {
		h.t.Fatalf("StopPodSandbox: %v", err)
	}
	if err := h.rt.StopPodSandbox(h.ctx, p.id); err != nil {
		h.t.Errorf("second StopPodSandbox: %v; stopping twice must succeed", err)
	}
	st, err = h.rt.PodSandboxStatus(h.ctx, p.id, false)
	if err != nil || st.Status.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		h.t.Fatalf("stopped sandbox status %v, %v; want NOTREADY", st, err)
	}
	h.expectSandboxes("ready after stop", ready, other.id)

	if err := h.rt.RemovePodSandbox(h.ctx, p.id); err != nil {
		h.t.Fatalf("RemovePodSandbox: %v", err)
	}
	if err := h.rt.RemovePodSandbox(h.ctx, p.id); err != nil && !isNotFound(err) {
		h.t.Errorf("second RemovePodSandbox: %v; removing twice must succeed or say NotFound", err)
	}
	if _, err := h.rt.PodSandboxStatus(h.ctx, p.id, false); !isNotFound(err) {
		h.t.Errorf("PodSandboxStatus of a removed sandbox: %v, want NotFound", err)
	}
	h.expectSandboxes("id after removal", &runtimeapi.PodSandboxFilter{Id: p.id})
	h.removeSandbox(other.id)
	h.expectSandboxes("this test's after removal", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{runLabel: h.runID, testLabel: h.testName()}})
}

// expectSandboxes lists with filter and wants exactly ids.
func (h *harness) expectSandboxes(what string, filter *runtimeapi.PodSandboxFilter, ids ...string) {
	h.t.Helper()
	got, err := h.rt.ListPodSandbox(h.ctx, filter)
	if err != nil {
		h.t.Fatalf("ListPodSandbox (%s): %v", what, err)
	}
	sameIDs(h.t, "ListPodSandbox ("+what+")", sandboxIDs(got), ids)
}

func sandboxIDs(sbs []*runtimeapi.PodSandbox) []string {
	ids := make([]string, len(sbs))
	for i, sb := range sbs {
		ids[i] = sb.Id
	}
	return ids
}

// sameIDs fails t unless got and want hold the same IDs in any order.
func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	set := map[string]int{}
	for _, id := range got {
		set[id]++
	}
	for _, id := range want {
		set[id]--
	}
	for id, n := range set {
		if n != 0 {
			t.Errorf("%s = %v, want %v (%s differs)", what, got, want, id)
			return
		}
	}
}

func testSandboxStopKillsContainers(h *harness) {
	p := h.runSandbox("stopkills", nil)
	id := h.startContainer(p, "sleeper", "sleep", "3600")
	h.waitState(id, runtimeapi.ContainerState_CONTAINER_RUNNING)
	if err := h.rt.StopPodSandbox(h.ctx, p.id); err != nil {
		h.t.Fatalf("StopPodSandbox: %v", err)
	}
	if st := h.status(id); st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		h.t.Errorf("container in a stopped sandbox is %v, want EXITED", st.State)
	}
	if err := h.rt.RemovePodSandbox(h.ctx, p.id); err != nil {
		h.t.Fatalf("RemovePodSandbox: %v", err)
	}
	left, err := h.rt.ListContainers(h.ctx, &runtimeapi.ContainerFilter{PodSandboxId: p.id})
	if err != nil {
		h.t.Fatalf("ListContainers: %v", err)
	}
	if len(left) != 0 {
		h.t.Errorf("%d containers remain after their sandbox was removed", len(left))
	}
	if _, err := h.rt.ContainerStatus(h.ctx, id, false); !isNotFound(err) {
		h.t.Errorf("ContainerStatus of a container removed with its sandbox: %v, want NotFound", err)
	}
}
