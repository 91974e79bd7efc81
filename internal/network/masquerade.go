package network

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// Table is the nftables table skiff's node networking owns. Nothing else
// writes to it, so it can be replaced whole and deleted on cleanup.
const Table = "skiff-network"

// EnsureMasquerade (re)writes the table so that traffic from pods to
// anywhere outside the cluster's pod range leaves with the node's address.
// Pod-to-pod traffic, on this node or another (host-gw routes), keeps its
// source address, as Kubernetes' network model requires.
func EnsureMasquerade(clusterCIDR *net.IPNet) error {
	if clusterCIDR == nil || clusterCIDR.IP.To4() == nil {
		return fmt.Errorf("masquerade: need an IPv4 cluster CIDR, got %v", clusterCIDR)
	}
	// One transaction: create-or-keep, flush, refill. Readers never see
	// the table half-written.
	script := fmt.Sprintf(`table ip %[1]s {}
flush table ip %[1]s
table ip %[1]s {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr %[2]s ip daddr != %[2]s masquerade comment "pods leaving the pod network"
	}
}
`, Table, clusterCIDR.String())
	return nft(script)
}

// Cleanup removes what the node's networking added to the host: the
// nftables table and the pods' bridge (the CNI bridge plugin creates it
// and never deletes it; the veths go with the sandboxes). The node's CNI
// config goes with its data dir.
func Cleanup(bridge string) error {
	if bridge == "" {
		bridge = "cni0"
	}
	var errs []error
	if err := nft(fmt.Sprintf("delete table ip %s\n", Table)); err != nil && !strings.Contains(err.Error(), "No such file or directory") {
		errs = append(errs, err)
	}
	if out, err := exec.Command("ip", "link", "delete", bridge, "type", "bridge").CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "Cannot find device") {
		errs = append(errs, fmt.Errorf("delete bridge %s: %v: %s", bridge, err, bytes.TrimSpace(out)))
	}
	return errors.Join(errs...)
}

func nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}
