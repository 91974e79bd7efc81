package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The data-plane topology, all inside namespaces this program creates:
//
//	client pod netns          node netns (proxy, nftables)          backend pod netns
//	eth0 10.42.1.2/24 ── veth ── skbpc0 10.42.1.1   skbpb0 10.42.0.1 ── veth ── eth0 10.42.0.11-20/24
//
// Both pods are inside the cluster CIDR (10.42.0.0/16), so a connection
// to a ClusterIP is DNATed by the node and not masqueraded: the only
// difference from connecting straight to a pod IP is the proxy's rules.
const (
	nodeToClient  = "10.42.1.1"
	clientAddr    = "10.42.1.2"
	nodeToBackend = "10.42.0.1"
	backendCount  = 10 // one backend address per endpoint of a Service
	backendPort   = 8080
	nsPrefix      = "skbp-"
)

// backendIP is the address of endpoint j of every Service.
func backendIP(j int) string { return fmt.Sprintf("10.42.0.%d", 11+j) }

// topology names the namespaces one run uses; each name ends in the
// creating process's pid, so parallel runs do not collide and leftovers
// of a killed run can be recognised.
type topology struct {
	node, client, backend string
	made                  []string
}

func newTopology() *topology {
	pid := strconv.Itoa(os.Getpid())
	return &topology{node: nsPrefix + "node-" + pid, client: nsPrefix + "client-" + pid,
		backend: nsPrefix + "backend-" + pid}
}

// addNetns creates a namespace with loopback up and remembers it for
// deleteAll.
func (t *topology) addNetns(name string) error {
	if err := ipRun("netns", "add", name); err != nil {
		return err
	}
	t.made = append(t.made, name)
	return ipRun("-n", name, "link", "set", "lo", "up")
}

// addNode creates the node namespace the proxy runs in.
func (t *topology) addNode() error { return t.addNetns(t.node) }

// addPods creates the client and backend namespaces and wires them to
// the node. Every interface lives inside a namespace from its creation,
// so deleting the namespaces removes all of it.
func (t *topology) addPods() error {
	for _, ns := range []string{t.client, t.backend} {
		if err := t.addNetns(ns); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"link", "add", "skbpc0", "netns", t.node, "type", "veth", "peer", "name", "eth0", "netns", t.client},
		{"-n", t.node, "addr", "add", nodeToClient + "/24", "dev", "skbpc0"},
		{"-n", t.node, "link", "set", "skbpc0", "up"},
		{"-n", t.client, "addr", "add", clientAddr + "/24", "dev", "eth0"},
		{"-n", t.client, "link", "set", "eth0", "up"},
		{"-n", t.client, "route", "add", "default", "via", nodeToClient},

		{"link", "add", "skbpb0", "netns", t.node, "type", "veth", "peer", "name", "eth0", "netns", t.backend},
		{"-n", t.node, "addr", "add", nodeToBackend + "/24", "dev", "skbpb0"},
		{"-n", t.node, "link", "set", "skbpb0", "up"},
		{"-n", t.backend, "link", "set", "eth0", "up"},
	}
	for j := range backendCount {
		steps = append(steps, []string{"-n", t.backend, "addr", "add", backendIP(j) + "/24", "dev", "eth0"})
	}
	steps = append(steps, []string{"-n", t.backend, "route", "add", "default", "via", nodeToBackend})
	for _, s := range steps {
		if err := ipRun(s...); err != nil {
			return err
		}
	}
	// The node routes between its pods; the client may open tens of
	// thousands of connections in a few seconds (new-connection load).
	sysctls := [][]string{
		{t.node, "net.ipv4.ip_forward=1"},
		{t.client, "net.ipv4.ip_local_port_range=1024 65535"},
		{t.client, "net.ipv4.tcp_tw_reuse=1"},
	}
	for _, s := range sysctls {
		if b, err := exec.Command("ip", "netns", "exec", s[0], "sysctl", "-qw", s[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("sysctl %s in %s: %v: %s", s[1], s[0], err, b)
		}
	}
	return nil
}

// deleteAll deletes every namespace this topology made, with their
// interfaces and nftables tables.
func (t *topology) deleteAll() {
	for i := len(t.made) - 1; i >= 0; i-- {
		if err := ipRun("netns", "del", t.made[i]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	t.made = nil
}

// deleteStale removes namespaces left by an earlier run of this program
// that was killed before it could clean up (its pid no longer exists).
func deleteStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(name, nsPrefix) {
			continue
		}
		pid, err := strconv.Atoi(name[strings.LastIndex(name, "-")+1:])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			continue // a run still going
		}
		if err := ipRun("netns", "del", name); err == nil {
			fmt.Fprintln(os.Stderr, "bench: deleted stale network namespace", name)
		}
	}
}

func ipRun(args ...string) error {
	if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	return nil
}
