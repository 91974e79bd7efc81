package cri_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/containerd/containerdtest"
)

// podSubnet is the test network's range. Nothing is sent to it: the test
// only checks that a pod gets an address and an interface in it.
const podSubnet = "10.244.99.0/24"

// TestPodNetworkCNI shows pods in their own network namespace get an IP
// from CNI: a bridge plus host-local config written for the test (the
// runtime brings up lo with the loopback plugin itself). The bridge is
// not a gateway, so the host's forwarding sysctl is left alone. When the
// test ends, the bridge, its veths, the IPAM reservations and the pod
// network namespaces are gone.
func TestPodNetworkCNI(t *testing.T) {
	containerdtest.SkipUnlessAvailable(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to remove the test bridge")
	}
	mirror := startRegistry(t)
	bridge := "skifft" + randomHex(2)
	dir := t.TempDir()
	confDir, ipamDir := filepath.Join(dir, "net.d"), filepath.Join(dir, "ipam")
	writeCNIConfig(t, confDir, bridge, ipamDir)
	// These run after the runtime's cleanup.
	t.Cleanup(func() { deleteBridge(t, bridge) })
	t.Cleanup(removeCNICacheDirFunc(t))

	rt := containerdtest.Start(t, containerd.Config{
		RegistryMirror: mirror,
		SandboxImage:   testPauseImage,
		CNIConfDir:     confDir,
		CgroupParent:   "/skifftest-" + randomHex(4),
	})
	client := containerdtest.Dial(t, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitNetworkReady(t, ctx, client)

	if _, err := client.PullImage(ctx, &runtimeapi.ImageSpec{Image: testImage}, nil, nil); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	sbConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "netpod", Uid: randomHex(8), Namespace: "default"},
		Hostname:     "netpod",
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: rt.Config().CgroupParent + "/podnet",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
				Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD,
			}},
		},
	}
	start := time.Now()
	sandbox, err := client.RunPodSandbox(ctx, sbConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RunPodSandbox with CNI networking: %v", time.Since(start).Round(time.Millisecond))
	st, err := client.PodSandboxStatus(ctx, sandbox, false)
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(st.Status.GetNetwork().GetIp())
	_, subnet, _ := net.ParseCIDR(podSubnet)
	if ip == nil || !subnet.Contains(ip) {
		t.Fatalf("sandbox IP %q, want one in %s", st.Status.GetNetwork().GetIp(), podSubnet)
	}
	t.Logf("sandbox IP %s", ip)

	ctr, err := client.CreateContainer(ctx, sandbox, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "probe"},
		Image:    &runtimeapi.ImageSpec{Image: testImage},
		Command:  []string{"sleep", "3600"},
		LogPath:  "probe.log",
	}, sbConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.StartContainer(ctx, ctr); err != nil {
		t.Fatal(err)
	}
	exec := func(cmd ...string) string {
		t.Helper()
		out, stderr, err := client.ExecSync(ctx, ctr, cmd, 10*time.Second)
		if err != nil {
			t.Fatalf("exec %v: %v (%s)", cmd, err, stderr)
		}
		return string(out)
	}
	if out := exec("ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, ip.String()+"/24") {
		t.Errorf("eth0 in the pod:\n%s\nwant %s/24", out, ip)
	}
	if out := exec("ip", "-4", "addr", "show", "lo"); !strings.Contains(out, "127.0.0.1") || !strings.Contains(out, "UP") {
		t.Errorf("lo in the pod is not up with 127.0.0.1:\n%s", out)
	}
	if out := strings.TrimSpace(exec("hostname")); out != "netpod" {
		t.Errorf("hostname in the pod %q, want netpod", out)
	}
	if out, err := exec2("ip", "-o", "link", "show", "master", bridge); err != nil || !strings.Contains(out, "veth") {
		t.Errorf("no veth on bridge %s on the host: %q %v", bridge, out, err)
	}

	// Tear down now, to check the host before the bridge goes.
	containerdtest.StopAndClean(t, rt)
	if out, _ := exec2("ip", "-o", "link", "show", "master", bridge); strings.TrimSpace(out) != "" {
		t.Errorf("links left on bridge %s after cleanup:\n%s", bridge, out)
	}
	reserved, _ := filepath.Glob(filepath.Join(ipamDir, "*", "10.244.99.*"))
	if len(reserved) != 0 {
		t.Errorf("host-local reservations left after cleanup: %v", reserved)
	}
}

// writeCNIConfig writes the test network's config list.
func writeCNIConfig(t *testing.T, confDir, bridge, ipamDir string) {
	t.Helper()
	must(t, os.MkdirAll(confDir, 0o755))
	conf := `{
  "cniVersion": "1.0.0",
  "name": "skifftest",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "` + bridge + `",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "` + ipamDir + `",
        "ranges": [[{"subnet": "` + podSubnet + `"}]]
      }
    }
  ]
}
`
	must(t, os.WriteFile(filepath.Join(confDir, "10-skifftest.conflist"), []byte(conf), 0o644))
}

// waitNetworkReady waits for the runtime to have loaded the CNI config.
func waitNetworkReady(t *testing.T, ctx context.Context, client interface {
	Status(context.Context, bool) (*runtimeapi.StatusResponse, error)
}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Status(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Status.Conditions {
			if c.Type == runtimeapi.NetworkReady && c.Status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("runtime network not ready after 30s: %+v", resp.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deleteBridge removes the test bridge and checks it is gone.
func deleteBridge(t *testing.T, bridge string) {
	if _, err := net.InterfaceByName(bridge); err != nil {
		return // never created
	}
	if out, err := exec2("ip", "link", "del", bridge); err != nil {
		t.Errorf("deleting bridge %s: %v %s", bridge, err, out)
	}
	if _, err := net.InterfaceByName(bridge); err == nil {
		t.Errorf("bridge %s still exists", bridge)
	}
}

func exec2(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// cniCacheDir is where libcni, inside containerd, caches results; it
// cannot be moved in containerd 1.6. DEL empties it again.
const cniCacheDir = "/var/lib/cni"

// removeCNICacheDirFunc returns a cleanup that removes the CNI cache
// directory if this test created it, and fails the test if results for
// its pods were left there.
func removeCNICacheDirFunc(t *testing.T) func() {
	_, err := os.Stat(cniCacheDir)
	existed := err == nil
	return func() {
		left, _ := filepath.Glob(filepath.Join(cniCacheDir, "results", "skifftest-*"))
		if len(left) != 0 {
			t.Errorf("CNI results left in the cache: %v", left)
		}
		if !existed {
			_ = os.Remove(filepath.Join(cniCacheDir, "results"))
			_ = os.Remove(cniCacheDir)
		}
	}
}
