package fake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
	utilexec "k8s.io/utils/exec"
)

func newTestRuntime(t *testing.T) (*Runtime, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := New(Options{Clock: clk, PodCIDR: "10.42.7.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

func sandboxConfig(uid string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: uid},
		Labels:   map[string]string{"io.kubernetes.pod.uid": uid},
	}
}

func runContainer(t *testing.T, r *Runtime, sb string, name string, argv ...string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := r.PullImage(ctx, &runtimeapi.ImageSpec{Image: "busybox"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	id, err := r.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  argv,
		Labels:   map[string]string{"name": name},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func containerStatus(t *testing.T, r *Runtime, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	resp, err := r.ContainerStatus(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}

func TestSandboxLifecycle(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	id, err := r.RunPodSandbox(ctx, sandboxConfig("u1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunPodSandbox(ctx, sandboxConfig("u1"), ""); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("duplicate sandbox: %v, want name reserved", err)
	}
	st, err := r.PodSandboxStatus(ctx, id, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.Status.Network.Ip != "10.42.7.2" {
		t.Fatalf("status = %v ip %q", st.Status.State, st.Status.Network.Ip)
	}
	host := sandboxConfig("u2")
	host.Linux = &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}}
	hid, err := r.RunPodSandbox(ctx, host, "")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := r.PodSandboxStatus(ctx, hid, false); st.Status.Network.Ip != "" {
		t.Fatalf("host network sandbox got IP %q", st.Status.Network.Ip)
	}
	c := runContainer(t, r, id, "app")
	if err := r.StopPodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	if cs := containerStatus(t, r, c); cs.State != runtimeapi.ContainerState_CONTAINER_EXITED || cs.ExitCode != 137 {
		t.Fatalf("container after sandbox stop: %v %d", cs.State, cs.ExitCode)
	}
	list, _ := r.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"io.kubernetes.pod.uid": "u1"}})
	if len(list) != 1 || list[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("list = %v", list)
	}
	if err := r.RemovePodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := r.RemovePodSandbox(ctx, id); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := r.ContainerStatus(ctx, c, false); status.Code(err) != codes.NotFound {
		t.Fatalf("container of removed sandbox: %v", err)
	}
	if err := r.StopPodSandbox(ctx, id); status.Code(err) != codes.NotFound {
		t.Fatalf("stop removed sandbox: %v", err)
	}
	// The released name can be used again.
	if _, err := r.RunPodSandbox(ctx, sandboxConfig("u1"), ""); err != nil {
		t.Fatal(err)
	}
}

func TestContainerBehaviour(t *testing.T) {
	r, clk := newTestRuntime(t)
	sb, _ := r.RunPodSandbox(context.Background(), sandboxConfig("u1"), "")
	start := clk.Now()

	exit3 := runContainer(t, r, sb, "exit3", "sh", "-c", "echo failing; exit 3")
	if cs := containerStatus(t, r, exit3); cs.State != runtimeapi.ContainerState_CONTAINER_EXITED || cs.ExitCode != 3 || cs.Reason != "Error" {
		t.Fatalf("exit 3: %v %d %q", cs.State, cs.ExitCode, cs.Reason)
	}
	sleeper := runContainer(t, r, sb, "sleeper", "sleep", "5")
	server := runContainer(t, r, sb, "server", "/server", "--port=80")
	shell := runContainer(t, r, sb, "shell", "sh", "-c", "while true; do sleep 1; done")
	clk.Step(4 * time.Second)
	if cs := containerStatus(t, r, sleeper); cs.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("sleeper after 4s: %v", cs.State)
	}
	clk.Step(2 * time.Second)
	cs := containerStatus(t, r, sleeper)
	if cs.State != runtimeapi.ContainerState_CONTAINER_EXITED || cs.ExitCode != 0 || cs.Reason != "Completed" ||
		cs.FinishedAt != start.Add(5*time.Second).UnixNano() {
		t.Fatalf("sleeper after 6s: %v %d %q finished %v", cs.State, cs.ExitCode, cs.Reason, time.Unix(0, cs.FinishedAt))
	}
	if cs := containerStatus(t, r, server); cs.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("server: %v", cs.State)
	}
	if err := r.StopContainer(context.Background(), server, 30); err != nil {
		t.Fatal(err)
	}
	if cs := containerStatus(t, r, server); cs.State != runtimeapi.ContainerState_CONTAINER_EXITED || cs.ExitCode != 143 {
		t.Fatalf("stopped server: %v %d", cs.State, cs.ExitCode)
	}
	_ = r.StopContainer(context.Background(), shell, 30)
	if cs := containerStatus(t, r, shell); cs.ExitCode != 137 {
		t.Fatalf("stopped shell: %d, want 137 (PID 1 ignores SIGTERM)", cs.ExitCode)
	}
	if err := r.StartContainer(context.Background(), server); err == nil {
		t.Fatal("started an exited container")
	}
	running := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}
	if list, _ := r.ListContainers(context.Background(), &runtimeapi.ContainerFilter{State: running}); len(list) != 0 {
		t.Fatalf("running containers: %v", list)
	}
	if list, _ := r.ListContainers(context.Background(), &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"name": "exit3"}}); len(list) != 1 || list[0].Id != exit3 {
		t.Fatalf("by label: %v", list)
	}
}

func TestImages(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	_, err := r.PullImage(ctx, &runtimeapi.ImageSpec{Image: "nosuch/image:1"}, nil, nil)
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "docker.io/nosuch/image:1: not found") {
		t.Fatalf("pull unknown: %v", err)
	}
	if st, err := r.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "busybox"}, false); err != nil || st.Image != nil {
		t.Fatalf("status before pull: %v %v", st, err)
	}
	id, err := r.PullImage(ctx, &runtimeapi.ImageSpec{Image: "docker.io/library/busybox:latest"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "busybox:latest"}, false)
	if err != nil || st.Image == nil || st.Image.Id != id || st.Image.RepoDigests[0] != "docker.io/library/busybox@"+newImage("docker.io/library/busybox:latest").digest {
		t.Fatalf("status after pull: %v %v", st, err)
	}
	sb, _ := r.RunPodSandbox(ctx, sandboxConfig("u1"), "")
	if _, err := r.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "nginx"}}, nil); status.Code(err) != codes.NotFound {
		t.Fatalf("create from absent image: %v", err)
	}
	if _, err := r.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: id}}, nil); err != nil {
		t.Fatalf("create by image id: %v", err)
	}
	if err := r.RemoveImage(ctx, &runtimeapi.ImageSpec{Image: "busybox"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("remove image in use: %v", err)
	}
}

func TestExecSyncAndHealth(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	sb, _ := r.RunPodSandbox(ctx, sandboxConfig("u1"), "")
	c := runContainer(t, r, sb, "app", "sleep", "infinity")
	out, _, err := r.ExecSync(ctx, c, []string{"echo", "hi"}, time.Second)
	if err != nil || string(out) != "hi\n" {
		t.Fatalf("exec echo: %q %v", out, err)
	}
	_, _, err = r.ExecSync(ctx, c, []string{"sh", "-c", "exit 2"}, time.Second)
	var exitErr utilexec.CodeExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 2 {
		t.Fatalf("exec exit 2: %v", err)
	}
	r.SetExecHandler(func(_, _ string, cmd []string) ([]byte, []byte, int32) { return []byte("custom"), nil, 0 })
	if out, _, _ := r.ExecSync(ctx, c, []string{"x"}, time.Second); string(out) != "custom" {
		t.Fatalf("custom handler: %q", out)
	}
	r.SetHealthy(false)
	if _, err := r.Version(ctx, ""); status.Code(err) != codes.Unavailable {
		t.Fatalf("unhealthy version: %v", err)
	}
	r.SetHealthy(true)
	if v, err := r.Version(ctx, ""); err != nil || v.RuntimeName != "fake" {
		t.Fatalf("version: %v %v", v, err)
	}
}

func TestLogsAndTerminationMessage(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	dir := t.TempDir()
	cfg := sandboxConfig("u1")
	cfg.LogDirectory = dir
	sb, _ := r.RunPodSandbox(ctx, cfg, "")
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	msgFile := filepath.Join(dir, "termination-log")
	if err := os.WriteFile(msgFile, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	_, _ = r.PullImage(ctx, &runtimeapi.ImageSpec{Image: "busybox"}, nil, nil)
	id, err := r.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  []string{"sh", "-c", "echo hello; echo bye > /dev/termination-log; exit 1"},
		LogPath:  "app/0.log",
		Mounts:   []*runtimeapi.Mount{{ContainerPath: "/dev/termination-log", HostPath: msgFile}},
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(filepath.Join(dir, "app", "0.log"))
	if err != nil || !strings.HasSuffix(string(log), " stdout F hello\n") {
		t.Fatalf("log = %q, %v", log, err)
	}
	if msg, _ := os.ReadFile(msgFile); string(msg) != "bye\n" {
		t.Fatalf("termination message = %q", msg)
	}
	if cs := containerStatus(t, r, id); cs.LogPath != filepath.Join(dir, "app", "0.log") || cs.ExitCode != 1 {
		t.Fatalf("status: %q %d", cs.LogPath, cs.ExitCode)
	}
}

func TestBehaviourOf(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want Behaviour
	}{
		{nil, Behaviour{Forever: true}},
		{[]string{"nginx", "-g", "daemon off;"}, Behaviour{Forever: true}},
		{[]string{"sh", "-c", "exit 3"}, Behaviour{ExitCode: 3}},
		{[]string{"/bin/sh", "-c", "sleep 2 && false"}, Behaviour{Runs: 2 * time.Second, ExitCode: 1}},
		{[]string{"sh", "-c", "while true; do sleep 1; done"}, Behaviour{Forever: true}},
		{[]string{"busybox", "sleep", "infinity"}, Behaviour{Forever: true}},
		{[]string{"sh", "-c", "echo 'a; b'; ls /"}, Behaviour{Output: []string{"a; b"}}},
		{[]string{"true"}, Behaviour{}},
	} {
		got := behaviourOf(tc.argv)
		if got.Forever != tc.want.Forever || got.ExitCode != tc.want.ExitCode || got.Runs != tc.want.Runs ||
			strings.Join(got.Output, "|") != strings.Join(tc.want.Output, "|") {
			t.Errorf("behaviourOf(%q) = %+v, want %+v", tc.argv, got, tc.want)
		}
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                    "docker.io/library/busybox:latest",
		"busybox:1.36":               "docker.io/library/busybox:1.36",
		"bitnami/redis":              "docker.io/bitnami/redis:latest",
		"docker.io/nginx":            "docker.io/library/nginx:latest",
		"registry.k8s.io/pause:3.10": "registry.k8s.io/pause:3.10",
		"localhost:5000/app":         "localhost:5000/app:latest",
		"quay.io/x/y@sha256:abc":     "quay.io/x/y@sha256:abc",
	} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
}
