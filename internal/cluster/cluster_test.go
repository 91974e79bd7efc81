package cluster

import (
	"strings"
	"testing"
)

func TestPlanLaysOutNodes(t *testing.T) {
	cfg := Config{Name: "dev", Nodes: 3, DataDir: "/tmp/x", Binary: "/bin/skiff"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	st := plan(cfg)
	if st.BridgeIP != "172.30.0.1" || st.ServerURL != "https://172.30.0.2:6443" {
		t.Errorf("bridge %s, server %s", st.BridgeIP, st.ServerURL)
	}
	want := []struct{ name, ip string }{{"dev-server", "172.30.0.2"}, {"dev-agent-1", "172.30.0.3"}, {"dev-agent-2", "172.30.0.4"}}
	for i, n := range st.Nodes {
		if n.Name != want[i].name || n.IP != want[i].ip {
			t.Errorf("node %d: %s %s, want %s %s", i, n.Name, n.IP, want[i].name, want[i].ip)
		}
		if len(n.HostVeth) > 15 || !strings.HasPrefix(n.HostVeth, st.Bridge[:8]) {
			t.Errorf("node %d: host veth %q (bridge %q)", i, n.HostVeth, st.Bridge)
		}
		if n.CgroupRoot != "/skiff-"+n.Name {
			t.Errorf("node %d: cgroup root %s", i, n.CgroupRoot)
		}
	}
	if !st.Nodes[0].Server || st.Nodes[0].AgentDataDir != "/tmp/x/dev-server/agent" || st.Nodes[1].AgentDataDir != st.Nodes[1].DataDir {
		t.Errorf("server node %+v", st.Nodes[0])
	}
	if len(st.Bridge) > 15 {
		t.Errorf("bridge name %q longer than IFNAMSIZ", st.Bridge)
	}
	other := Config{Name: "prod", Nodes: 1, DataDir: "/tmp/y", Binary: "/bin/skiff"}
	_ = other.validate()
	if plan(other).Bridge == st.Bridge {
		t.Error("two cluster names give the same bridge")
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Name: "Bad_Name"}, "cluster name"},
		{Config{Name: "ok", Subnet: "10.0.0.0"}, "not an IPv4 prefix"},
		{Config{Name: "ok", Subnet: "fd00::/64"}, "not an IPv4 prefix"},
		{Config{Name: "ok", Subnet: "10.0.0.0/30", Nodes: 2}, "want 1 to 1"},
		{Config{Name: "ok", Nodes: -1}, "nodes -1"},
	} {
		err := tc.cfg.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
