package cri_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/containerd/containerdtest"
	"github.com/skiff-sh/skiff/internal/cri/critest"
)

// TestContainerdConformance runs the CRI suite against a real, managed
// containerd pulling through a mirror, with pods on the host network so
// no CNI config is needed.
func TestContainerdConformance(t *testing.T) {
	containerdtest.SkipUnlessAvailable(t)
	mirror := startRegistry(t)
	parent := "/skifftest-" + randomHex(4)
	rt := containerdtest.Start(t, containerd.Config{
		RegistryMirror: mirror,
		SandboxImage:   testPauseImage,
		CgroupParent:   parent,
	})
	t.Logf("containerd ready after %v", rt.ReadyAfter())
	client := containerdtest.Dial(t, rt)
	critest.Run(t, client, client, critest.Options{
		Image:         testImage,
		MissingImage:  "busybox:no-such-tag",
		CgroupParent:  parent,
		HostNetwork:   true,
		RealProcesses: true,
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
