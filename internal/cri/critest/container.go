package critest

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// testContainerLifecycle walks created → running → exited by stop →
// removed and checks what ContainerStatus reports on the way.
func testContainerLifecycle(h *harness) {
	p := h.runSandbox("lifecycle", nil)
	cfg := h.containerConfig(p, "main", "sleep", "3600")
	cfg.Labels["role"] = "main"
	cfg.Annotations = map[string]string{"critest.skiff.sh/note": "lifecycle"}
	id := h.createContainer(p, cfg)

	st := h.status(id)
	if st.State != runtimeapi.ContainerState_CONTAINER_CREATED || st.CreatedAt == 0 || st.StartedAt != 0 {
		h.t.Fatalf("new container: state %v created %d started %d, want CREATED with only a creation time", st.State, st.CreatedAt, st.StartedAt)
	}
	if st.Metadata.GetName() != "main" || st.Labels["role"] != "main" || st.Annotations["critest.skiff.sh/note"] != "lifecycle" {
		h.t.Errorf("container status lost metadata, labels or annotations: %+v", st)
	}
	if st.Image.GetImage() == "" || st.ImageRef == "" {
		h.t.Errorf("container status has no image (%v) or image ref (%q)", st.Image, st.ImageRef)
	}
	if want := filepath.Join(p.logDir, "main", "0.log"); st.LogPath != want {
		h.t.Errorf("container log path %q, want %q", st.LogPath, want)
	}

	start := time.Now()
	if err := h.rt.StartContainer(h.ctx, id); err != nil {
		h.t.Fatalf("StartContainer: %v", err)
	}
	h.t.Logf("StartContainer: %v", time.Since(start).Round(time.Millisecond))
	st = h.waitState(id, runtimeapi.ContainerState_CONTAINER_RUNNING)
	if st.StartedAt < st.CreatedAt || st.FinishedAt != 0 {
		h.t.Errorf("running container: created %d started %d finished %d", st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	if err := h.rt.StartContainer(h.ctx, id); err == nil {
		h.t.Errorf("starting a running container succeeded; want an error")
	}

	if err := h.rt.StopContainer(h.ctx, id, 0); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	st = h.status(id)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.FinishedAt < st.StartedAt || st.ExitCode == 0 {
		h.t.Fatalf("stopped container: state %v exit %d started %d finished %d; want EXITED, non-zero, finished after start",
			st.State, st.ExitCode, st.StartedAt, st.FinishedAt)
	}
	if err := h.rt.StopContainer(h.ctx, id, 0); err != nil {
		h.t.Errorf("stopping an exited container: %v; must succeed", err)
	}
	if err := h.rt.RemoveContainer(h.ctx, id); err != nil {
		h.t.Fatalf("RemoveContainer: %v", err)
	}
	if _, err := h.rt.ContainerStatus(h.ctx, id, false); !isNotFound(err) {
		h.t.Errorf("ContainerStatus of a removed container: %v, want NotFound", err)
	}
}

// testContainerRunsToExit runs a container that writes and exits by
// itself, and checks its exit code and its log in the CRI format.
func testContainerRunsToExit(h *harness) {
	p := h.runSandbox("exits", nil)
	id := h.startContainer(p, "once", "sh", "-c", "echo first; echo second; exit 3")
	st := h.waitState(id, runtimeapi.ContainerState_CONTAINER_EXITED)
	if st.ExitCode != 3 {
		h.t.Errorf("exit code %d, want 3", st.ExitCode)
	}
	if st.Reason != "Error" {
		h.t.Errorf("reason %q for a non-zero exit, want Error", st.Reason)
	}
	// No order between start and finish: containerd stamps the start after
	// the task started and the finish from the exit event, so a process
	// that exits at once can finish "before" it started.
	if st.StartedAt < st.CreatedAt || st.FinishedAt < st.CreatedAt {
		h.t.Errorf("created %d started %d finished %d; want start and finish after creation", st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	lines, err := waitLog(st.LogPath, "stdout first", "stdout second")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, l := range lines {
		if !l.full {
			h.t.Errorf("short line %q logged as partial", l.text)
		}
	}

	ok := h.startContainer(p, "fine", "sh", "-c", "exit 0")
	if st := h.waitState(ok, runtimeapi.ContainerState_CONTAINER_EXITED); st.ExitCode != 0 || st.Reason != "Completed" {
		h.t.Errorf("clean exit: code %d reason %q, want 0 Completed", st.ExitCode, st.Reason)
	}
}

// testContainerConfig checks args, environment, working directory,
// mounts and stderr reach the process.
func testContainerConfig(h *harness) {
	if !h.opts.RealProcesses {
		h.t.Skip("needs containers that really run their commands")
	}
	p := h.runSandbox("config", nil)
	in, out := h.t.TempDir(), h.t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "data"), []byte("from the host\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	cfg := h.containerConfig(p, "config")
	cfg.Command = []string{"sh", "-c"}
	cfg.Args = []string{`echo "$GREETING $0" > /work/out/result; pwd >> /work/out/result; cat /in/data; ` +
		`if touch /in/x 2>/dev/null; then echo writable; fi; echo to-stderr >&2`, "arg0"}
	cfg.Envs = []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("hello")}}
	cfg.WorkingDir = "/work"
	cfg.Mounts = []*runtimeapi.Mount{
		{ContainerPath: "/in", HostPath: in, Readonly: true},
		{ContainerPath: "/work/out", HostPath: out},
	}
	id := h.createContainer(p, cfg)
	if err := h.rt.StartContainer(h.ctx, id); err != nil {
		h.t.Fatalf("StartContainer: %v", err)
	}
	st := h.waitState(id, runtimeapi.ContainerState_CONTAINER_EXITED)
	if st.ExitCode != 0 {
		h.t.Errorf("exit code %d, want 0", st.ExitCode)
	}
	got, err := os.ReadFile(filepath.Join(out, "result"))
	if err != nil || string(got) != "hello arg0\n/work\n" {
		h.t.Errorf("file written through the mount = %q, %v; want the env, the arg and the working dir", got, err)
	}
	lines, err := waitLog(st.LogPath, "stdout from the host", "stderr to-stderr")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, l := range lines {
		if l.text == "writable" {
			h.t.Errorf("read-only mount was writable")
		}
	}
	if len(st.Mounts) != 2 {
		h.t.Errorf("status lists %d mounts, want 2", len(st.Mounts))
	}
}

// testStopTimeout checks StopContainer sends SIGTERM first and kills
// after the timeout.
func testStopTimeout(h *harness) {
	p := h.runSandbox("stop", nil)
	// sleep as PID 1 ignores SIGTERM, so only the kill ends it.
	stubborn := h.startContainer(p, "stubborn", "sleep", "3600")
	h.waitState(stubborn, runtimeapi.ContainerState_CONTAINER_RUNNING)
	start := time.Now()
	if err := h.rt.StopContainer(h.ctx, stubborn, 1); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	took := time.Since(start)
	st := h.status(stubborn)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode == 0 {
		h.t.Fatalf("after StopContainer: %v exit %d, want EXITED non-zero", st.State, st.ExitCode)
	}
	h.t.Logf("StopContainer with 1s timeout on a container ignoring SIGTERM took %v, exit %d", took.Round(time.Millisecond), st.ExitCode)
	if !h.opts.RealProcesses {
		return
	}
	if took < time.Second || st.ExitCode != 137 {
		h.t.Errorf("stop took %v with exit %d; want ≥1s (the timeout) and 137 (SIGKILL)", took, st.ExitCode)
	}

	polite := h.startContainer(p, "polite", "sh", "-c", "trap 'echo got TERM; exit 0' TERM; sleep 3600 & wait")
	h.waitState(polite, runtimeapi.ContainerState_CONTAINER_RUNNING)
	time.Sleep(200 * time.Millisecond) // let the shell install its trap
	start = time.Now()
	if err := h.rt.StopContainer(h.ctx, polite, 30); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	took = time.Since(start)
	st = h.status(polite)
	if st.ExitCode != 0 || took > 10*time.Second {
		h.t.Errorf("container handling SIGTERM: exit %d after %v; want 0 well before the 30s timeout", st.ExitCode, took)
	}
	if _, err := waitLog(st.LogPath, "stdout got TERM"); err != nil {
		h.t.Error(err)
	}
}

// testRemoveContainer checks removing a running container and removing
// twice.
func testRemoveContainer(h *harness) {
	p := h.runSandbox("remove", nil)
	id := h.startContainer(p, "running", "sleep", "3600")
	h.waitState(id, runtimeapi.ContainerState_CONTAINER_RUNNING)
	if err := h.rt.RemoveContainer(h.ctx, id); err != nil {
		h.t.Fatalf("RemoveContainer of a running container: %v", err)
	}
	if _, err := h.rt.ContainerStatus(h.ctx, id, false); !isNotFound(err) {
		h.t.Errorf("ContainerStatus after removal: %v, want NotFound", err)
	}
	if err := h.rt.RemoveContainer(h.ctx, id); err != nil && !isNotFound(err) {
		h.t.Errorf("second RemoveContainer: %v; must succeed or say NotFound", err)
	}
	left, err := h.rt.ListContainers(h.ctx, &runtimeapi.ContainerFilter{PodSandboxId: p.id})
	if err != nil || len(left) != 0 {
		h.t.Errorf("ListContainers after removal = %d containers, %v; want none", len(left), err)
	}
}

// testListFilters checks ListContainers' filters by ID, sandbox, state
// and labels.
func testListFilters(h *harness) {
	p := h.runSandbox("filters", nil)
	q := h.runSandbox("filters-other", nil)
	running := h.startContainer(p, "a", "sleep", "3600")
	cfg := h.containerConfig(p, "b", "sleep", "3600")
	cfg.Labels["app"] = "b"
	created := h.createContainer(p, cfg)
	elsewhere := h.startContainer(q, "c", "sleep", "3600")
	h.waitState(running, runtimeapi.ContainerState_CONTAINER_RUNNING)
	h.waitState(elsewhere, runtimeapi.ContainerState_CONTAINER_RUNNING)

	own := map[string]string{runLabel: h.runID, testLabel: h.testName()}
	withApp := map[string]string{runLabel: h.runID, "app": "b"}
	state := func(s runtimeapi.ContainerState) *runtimeapi.ContainerStateValue {
		return &runtimeapi.ContainerStateValue{State: s}
	}
	for _, tc := range []struct {
		what   string
		filter *runtimeapi.ContainerFilter
		want   []string
	}{
		{"labels", &runtimeapi.ContainerFilter{LabelSelector: own}, []string{running, created, elsewhere}},
		{"sandbox", &runtimeapi.ContainerFilter{PodSandboxId: p.id}, []string{running, created}},
		{"id", &runtimeapi.ContainerFilter{Id: created}, []string{created}},
		{"label app=b", &runtimeapi.ContainerFilter{LabelSelector: withApp}, []string{created}},
		{"running", &runtimeapi.ContainerFilter{LabelSelector: own, State: state(runtimeapi.ContainerState_CONTAINER_RUNNING)}, []string{running, elsewhere}},
		{"created", &runtimeapi.ContainerFilter{LabelSelector: own, State: state(runtimeapi.ContainerState_CONTAINER_CREATED)}, []string{created}},
		{"sandbox and running", &runtimeapi.ContainerFilter{PodSandboxId: q.id, State: state(runtimeapi.ContainerState_CONTAINER_RUNNING)}, []string{elsewhere}},
	} {
		got, err := h.rt.ListContainers(h.ctx, tc.filter)
		if err != nil {
			h.t.Fatalf("ListContainers (%s): %v", tc.what, err)
		}
		ids := make([]string, len(got))
		for i, c := range got {
			ids[i] = c.Id
			if c.PodSandboxId == "" || c.Metadata.GetName() == "" || c.Image.GetImage() == "" || c.CreatedAt == 0 {
				h.t.Errorf("listed container %s lacks sandbox, name, image or creation time: %+v", c.Id, c)
			}
		}
		sameIDs(h.t, "ListContainers ("+tc.what+")", ids, tc.want)
	}
	if got, err := h.rt.ListContainers(h.ctx, &runtimeapi.ContainerFilter{Id: "no-such-" + h.runID}); err != nil || len(got) != 0 {
		h.t.Errorf("ListContainers of an unknown ID = %v, %v; want none", got, err)
	}
	names := map[string]bool{}
	all, _ := h.rt.ListContainers(h.ctx, &runtimeapi.ContainerFilter{LabelSelector: own})
	for _, c := range all {
		names[strings.TrimSpace(c.Metadata.GetName())] = true
	}
	if !names["a"] || !names["b"] || !names["c"] {
		h.t.Errorf("listed names %v, want a, b, c", names)
	}
}
