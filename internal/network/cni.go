// Package network sets up a node's pod network: the CNI configuration
// containerd's CRI plugin uses for every sandbox (bridge + host-local +
// portmap + loopback, from the node's podCIDR), IP forwarding, the
// masquerade rule for traffic leaving the pod network, and the host-gw
// routes to the other nodes' pod CIDRs (Routes); it also picks the node's
// default IP. Everything it adds to the host it can remove again (Cleanup,
// CleanupRoutes). It does not touch Services (internal/proxy does).
package network

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// DefaultCNIBinDir is where Debian's containernetworking-plugins live
// (not /opt/cni/bin; DESIGN.md §8).
const DefaultCNIBinDir = "/usr/lib/cni"

// CNIConfig describes one node's pod network.
type CNIConfig struct {
	// PodCIDR is the node's range (spec.podCIDR), e.g. 10.42.0.0/24.
	PodCIDR *net.IPNet
	// Bridge is the Linux bridge the pods' veths join (default cni0).
	Bridge string
	// IPAMDir keeps host-local's allocations, under skiff's data dir so
	// that several nodes on one machine never share them.
	IPAMDir string
	// MTU of the pod interfaces; 0 leaves the plugin's default.
	MTU int
}

// confName is the file containerd reads; the "10-" prefix sorts it first
// in the conf dir, the way the CRI plugin picks its network.
const confName = "10-skiff.conflist"

// WriteCNIConfig writes the conflist into dir atomically (containerd
// watches the dir and reloads on change) and returns its path.
func WriteCNIConfig(dir string, c CNIConfig) (string, error) {
	if c.PodCIDR == nil {
		return "", fmt.Errorf("CNI config: no pod CIDR (the node has no spec.podCIDR yet)")
	}
	if c.IPAMDir == "" || !filepath.IsAbs(c.IPAMDir) {
		// host-local's default, /var/lib/cni/networks, is shared by every
		// node on the machine: nodes would share one reservation store,
		// keyed only by IP, and leak or double-book addresses.
		return "", fmt.Errorf("CNI config: IPAM dir %q must be an absolute, per-node path", c.IPAMDir)
	}
	if c.Bridge == "" {
		c.Bridge = "cni0"
	}
	if len(c.Bridge) > 15 {
		return "", fmt.Errorf("CNI config: bridge name %q is longer than 15 characters", c.Bridge)
	}
	gw := gateway(c.PodCIDR)
	bridge := map[string]any{
		"type":        "bridge",
		"bridge":      c.Bridge,
		"isGateway":   true,
		"ipMasq":      false, // one node-wide masquerade rule instead (masquerade.go)
		"hairpinMode": true,  // a pod reaches itself through its Service
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": c.IPAMDir,
			"ranges": [][]map[string]string{{{
				"subnet":  c.PodCIDR.String(),
				"gateway": gw.String(),
			}}},
			"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
		},
	}
	if c.MTU > 0 {
		bridge["mtu"] = c.MTU
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "skiff",
		"plugins": []any{
			bridge,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, confName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// gateway is the first address of the range: the bridge's own address.
func gateway(n *net.IPNet) net.IP {
	ip := make(net.IP, len(n.IP.To4()))
	copy(ip, n.IP.To4())
	ip[len(ip)-1]++
	return ip
}

// EnableForwarding turns on IPv4 forwarding, which pods need to reach
// anything beyond their node (it starts at 0 on these machines, §8).
func EnableForwarding() error {
	const p = "/proc/sys/net/ipv4/ip_forward"
	cur, err := os.ReadFile(p)
	if err == nil && len(cur) > 0 && cur[0] == '1' {
		return nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	return nil
}
