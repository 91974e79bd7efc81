package network

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWriteCNIConfig(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.42.3.0/24")
	dir := t.TempDir()
	path, err := WriteCNIConfig(dir, CNIConfig{PodCIDR: cidr, IPAMDir: "/var/lib/skiff/cni"})
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string           `json:"name"`
		Plugins []map[string]any `json:"plugins"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	if conf.Name != "skiff" || len(conf.Plugins) != 2 || conf.Plugins[0]["type"] != "bridge" || conf.Plugins[1]["type"] != "portmap" {
		t.Fatalf("unexpected conflist:\n%s", data)
	}
	ipam := conf.Plugins[0]["ipam"].(map[string]any)
	r := ipam["ranges"].([]any)[0].([]any)[0].(map[string]any)
	if r["subnet"] != "10.42.3.0/24" || r["gateway"] != "10.42.3.1" || ipam["dataDir"] != "/var/lib/skiff/cni" {
		t.Errorf("ipam = %v", ipam)
	}
	if _, err := WriteCNIConfig(dir, CNIConfig{}); err == nil || !strings.Contains(err.Error(), "no pod CIDR") {
		t.Errorf("missing CIDR: err = %v", err)
	}
	if _, err := WriteCNIConfig(dir, CNIConfig{PodCIDR: cidr, IPAMDir: "/x", Bridge: "a-very-long-bridge-name"}); err == nil {
		t.Error("a bridge name over 15 characters was accepted")
	}
	if _, err := WriteCNIConfig(dir, CNIConfig{PodCIDR: cidr}); err == nil || !strings.Contains(err.Error(), "IPAM dir") {
		t.Errorf("no IPAM dir: err = %v", err)
	}
}

// TestMasquerade programs the table inside a network namespace of the
// test's own, so the host's rules are never touched.
func TestMasquerade(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	inNetns(t, func() {
		_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
		for i := 0; i < 2; i++ { // idempotent
			if err := EnsureMasquerade(cidr); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command("nft", "list", "table", "ip", Table).CombinedOutput()
		if err != nil {
			t.Fatalf("list: %v: %s", err, out)
		}
		if n := strings.Count(string(out), "masquerade"); n != 1 {
			t.Errorf("want one masquerade rule, got %d:\n%s", n, out)
		}
		if !strings.Contains(string(out), "ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16") {
			t.Errorf("rule does not match the pod range:\n%s", out)
		}
		if out, err := exec.Command("ip", "link", "add", "skifftest0", "type", "bridge").CombinedOutput(); err != nil {
			t.Fatalf("add bridge: %v: %s", err, out)
		}
		if err := Cleanup("skifftest0"); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("ip", "link", "show", "skifftest0").CombinedOutput(); err == nil {
			t.Errorf("bridge still there after cleanup:\n%s", out)
		}
		if err := Cleanup("skifftest0"); err != nil {
			t.Errorf("second cleanup: %v", err)
		}
		if out, err := exec.Command("nft", "list", "table", "ip", Table).CombinedOutput(); err == nil {
			t.Errorf("table still there after cleanup:\n%s", out)
		}
	})
}

// inNetns runs fn on a locked thread inside a fresh network namespace,
// which disappears when the thread returns to the original one and the
// last reference goes.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// The thread is not unlocked: after Unshare it is dropped with the
		// goroutine, and the namespace with it.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		fn()
	}()
	<-done
}
