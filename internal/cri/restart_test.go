package cri_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/containerd/containerdtest"
	"github.com/skiff-sh/skiff/internal/cri"
)

// TestContainersOutliveRuntime checks what lets the kubelet and containerd
// be restarted without touching pods: a container keeps running while
// containerd is stopped, and a containerd started again on the same
// config finds it running and can exec in it. It also checks containerd
// is brought back by supervision after being killed.
func TestContainersOutliveRuntime(t *testing.T) {
	containerdtest.SkipUnlessAvailable(t)
	mirror := startRegistry(t)
	cfg := containerd.Config{
		DataDir:        containerdtest.DataDir(t),
		RegistryMirror: mirror,
		SandboxImage:   testPauseImage,
		CgroupParent:   "/skifftest-" + randomHex(4),
	}
	first := containerdtest.Start(t, cfg)
	client := containerdtest.Dial(t, first)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := client.PullImage(ctx, &runtimeapi.ImageSpec{Image: testImage}, nil, nil); err != nil {
		t.Fatal(err)
	}
	sbConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "survivor", Uid: randomHex(8), Namespace: "default"},
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: cfg.CgroupParent + "/survivor",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
				Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER,
			}},
		},
	}
	start := time.Now()
	sandbox, err := client.RunPodSandbox(ctx, sbConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := client.CreateContainer(ctx, sandbox, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "sleeper"},
		Image:    &runtimeapi.ImageSpec{Image: testImage},
		Command:  []string{"sleep", "3600"},
		LogPath:  "sleeper.log",
	}, sbConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.StartContainer(ctx, ctr); err != nil {
		t.Fatal(err)
	}
	t.Logf("sandbox + container running after %v", time.Since(start).Round(time.Millisecond))
	pid := containerPid(t, client, ctr)

	// Killed: supervision starts containerd again, and the container runs on.
	oldPid := first.Pid()
	if err := syscall.Kill(oldPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "containerd restarted", func() bool { return first.Restarts() == 1 && first.Pid() != 0 })
	if first.Pid() == oldPid {
		t.Fatalf("containerd pid still %d after restart", oldPid)
	}
	expectRunning(t, ctx, client, ctr, pid)

	// Stopped: the container runs on without any containerd.
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Fatalf("container process %d died with containerd", pid)
	}

	// Started again on the same config: the container is still there.
	second := containerdtest.Start(t, cfg)
	again := containerdtest.Dial(t, second)
	expectRunning(t, ctx, again, ctr, pid)
	out, _, err := again.ExecSync(ctx, ctr, []string{"echo", "still here"}, 10*time.Second)
	if err != nil || string(out) != "still here\n" {
		t.Fatalf("exec after restart: %q %v", out, err)
	}
	t.Logf("containerd ready after %v on first start, %v on a restart with a running pod", first.ReadyAfter(), second.ReadyAfter())
}

// containerPid is the container's main process as the runtime reports it.
func containerPid(t *testing.T, client *cri.Remote, id string) int {
	t.Helper()
	st, err := client.ContainerStatus(context.Background(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	// containerd's verbose info is JSON with "pid": N.
	info := st.Info["info"]
	i := strings.Index(info, `"pid":`)
	if i < 0 {
		t.Fatalf("no pid in verbose container status: %s", info)
	}
	rest := strings.TrimLeft(info[i+len(`"pid":`):], " ")
	end := strings.IndexAny(rest, ",}")
	pid, err := strconv.Atoi(strings.TrimSpace(rest[:end]))
	if err != nil || pid <= 0 {
		t.Fatalf("bad pid in verbose container status: %s", info)
	}
	return pid
}

func expectRunning(t *testing.T, ctx context.Context, client *cri.Remote, id string, pid int) {
	t.Helper()
	st, err := client.ContainerStatus(ctx, id, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING || !alive(pid) {
		t.Fatalf("container %s is %v (process %d alive: %v), want RUNNING", id, st.Status.State, pid, alive(pid))
	}
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
