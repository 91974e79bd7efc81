package cri_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/containerd/containerdtest"
)

// TestCleanupWithoutContainerd checks Cleanup's last resort: when
// containerd cannot be started to remove pods through the CRI, Cleanup
// still kills the shims and pod processes, unmounts rootfs and shm,
// removes the pod cgroups and the shims' sockets.
func TestCleanupWithoutContainerd(t *testing.T) {
	containerdtest.SkipUnlessAvailable(t)
	mirror := startRegistry(t)
	cfg := containerd.Config{
		DataDir:        containerdtest.DataDir(t),
		RegistryMirror: mirror,
		SandboxImage:   testPauseImage,
		CgroupParent:   "/skifftest-" + randomHex(4),
		Logger:         containerdtest.Logger(),
	}
	rt := containerdtest.Start(t, cfg)
	client := containerdtest.Dial(t, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := client.PullImage(ctx, &runtimeapi.ImageSpec{Image: testImage}, nil, nil); err != nil {
		t.Fatal(err)
	}
	sbConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "orphan", Uid: randomHex(8), Namespace: "default"},
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: cfg.CgroupParent + "/orphan",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
				Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER,
			}},
		},
	}
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
	sockets := shimSocketsOf(t, rt.Config().Socket)
	if len(sockets) == 0 {
		t.Fatal("no shim sockets found for a running pod")
	}
	for _, s := range sockets {
		if _, err := os.Stat(s); err != nil {
			t.Fatalf("shim socket not where containerd 1.6 puts it: %v", err)
		}
	}
	if err := rt.Stop(); err != nil {
		t.Fatal(err)
	}

	broken := rt.Config()
	broken.Binary = "/bin/false" // containerd "cannot start"
	err = containerd.Cleanup(ctx, broken)
	if err == nil || !strings.Contains(err.Error(), "could not start containerd") {
		t.Errorf("Cleanup without a working containerd: %v; want it to say so", err)
	}
	left, err := containerd.Leftovers(broken)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		t.Errorf("left behind: %s", l)
	}
	for _, s := range sockets {
		if _, err := os.Stat(s); !os.IsNotExist(err) {
			t.Errorf("shim socket %s left behind: %v", s, err)
		}
	}
}

// shimSocketsOf finds the shims of the containerd at address and returns
// where containerd 1.6 puts their sockets: /run/containerd/s/ and the
// SHA-256 of "<address>/<namespace>/<id>".
func shimSocketsOf(t *testing.T, address string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		flags := map[string]string{}
		for i := 0; i+1 < len(args); i++ {
			flags[args[i]] = args[i+1]
		}
		if flags["-address"] != address || flags["-id"] == "" {
			continue
		}
		sum := sha256.Sum256([]byte(filepath.Join(address, flags["-namespace"], flags["-id"])))
		out = append(out, filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:])))
	}
	return out
}
