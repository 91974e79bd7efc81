package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"
)

// testbed is a node namespace with a client on one side (192.168.77.0/24)
// and pods on a bridge on the other (10.42.0.0/24), routed by the node
// like a real host routes to its pods.
type testbed struct {
	t      *testing.T
	node   string
	client string
	pods   map[string]string // pod name → netns
	podIP  map[string]string
	world  *world
	b      *backend
}

const (
	nodeIP   = "192.168.77.1"
	clientIP = "192.168.77.2"
)

func newTestbed(t *testing.T, pods ...string) *testbed {
	requireNetns(t)
	tb := &testbed{t: t, pods: map[string]string{}, podIP: map[string]string{}, world: newWorld()}
	tb.node = newNetns(t, "pxt-node")
	tb.client = newNetns(t, "pxt-client")
	ipCmd(t, "link", "add", "pxt-c0", "netns", tb.node, "type", "veth", "peer", "name", "eth0", "netns", tb.client)
	ipCmd(t, "-n", tb.node, "addr", "add", nodeIP+"/24", "dev", "pxt-c0")
	ipCmd(t, "-n", tb.node, "link", "set", "pxt-c0", "up")
	ipCmd(t, "-n", tb.client, "addr", "add", clientIP+"/24", "dev", "eth0")
	ipCmd(t, "-n", tb.client, "link", "set", "eth0", "up")
	ipCmd(t, "-n", tb.client, "route", "add", "default", "via", nodeIP)
	// A real node routes everything it does not know to its uplink; a
	// cluster IP without endpoints must be rejected by the table, not by
	// a missing route.
	ipCmd(t, "-n", tb.node, "route", "add", "default", "via", clientIP)

	ipCmd(t, "-n", tb.node, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", tb.node, "addr", "add", "10.42.0.1/24", "dev", "br0")
	ipCmd(t, "-n", tb.node, "link", "set", "br0", "up")
	for i, pod := range pods {
		ns := newNetns(t, "pxt-"+pod)
		ip := fmt.Sprintf("10.42.0.%d", 11+i)
		host := fmt.Sprintf("pxt-v%d", i)
		ipCmd(t, "link", "add", host, "netns", tb.node, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipCmd(t, "-n", tb.node, "link", "set", host, "master", "br0", "up")
		// As skiff's CNI config does: with br_netfilter, a pod's packet
		// DNATed back to itself is bridged out the port it came in on.
		ipCmd(t, "-n", tb.node, "link", "set", host, "type", "bridge_slave", "hairpin", "on")
		ipCmd(t, "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
		ipCmd(t, "-n", ns, "route", "add", "default", "via", "10.42.0.1")
		tb.pods[pod], tb.podIP[pod] = ns, ip
		tb.serve(pod)
	}
	if out, err := exec.Command("ip", "netns", "exec", tb.node, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("ip_forward: %v: %s", err, out)
	}
	inNetns(t, tb.node, func() {
		nft, err := knftables.New(knftables.IPv4Family, TableName)
		if err != nil {
			t.Skipf("nftables unusable: %v", err)
		}
		tb.b = &backend{nft: nft}
	})
	return tb
}

// serve starts the pod's echo servers: TCP :8080 and UDP :5353 answer
// "<pod> <client address as seen by the pod>".
func (tb *testbed) serve(pod string) {
	var ln net.Listener
	var pc net.PacketConn
	inNetns(tb.t, tb.pods[pod], func() {
		var err error
		if ln, err = net.Listen("tcp", ":8080"); err != nil {
			tb.t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp", ":5353"); err != nil {
			tb.t.Fatal(err)
		}
	})
	tb.t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s", pod, c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 64)
		for {
			_, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(pod+" "+addr.(*net.UDPAddr).IP.String()), addr)
		}
	}()
}

// sync programs the node's table from the world.
func (tb *testbed) sync() syncStats {
	tb.t.Helper()
	in := tb.world.input()
	in.Node.IPs = []net.IP{net.ParseIP(nodeIP)}
	rs := Compute(in)
	var st syncStats
	inNetns(tb.t, tb.node, func() {
		var err error
		if st, err = tb.b.apply(context.Background(), &rs); err != nil {
			tb.t.Fatalf("apply: %v", err)
		}
	})
	return st
}

// dial connects from netns ns to addr and returns what the server said
// ("<pod> <source it saw>").
func dial(t *testing.T, ns, addr string) (string, error) {
	var reply string
	var derr error
	inNetns(t, ns, func() {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			derr = err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(c)
		reply, derr = string(b), err
	})
	return reply, derr
}

// spread dials n times and counts the answering pods.
func (tb *testbed) spread(ns, addr string, n int) map[string]int {
	tb.t.Helper()
	seen := map[string]int{}
	for range n {
		reply, err := dial(tb.t, ns, addr)
		if err != nil {
			tb.t.Fatalf("dial %s from %s: %v", addr, ns, err)
		}
		seen[strings.Fields(reply)[0]]++
	}
	return seen
}

func TestKernelServiceProxy(t *testing.T) {
	tb := newTestbed(t, "pod-a", "pod-b", "pod-c")
	a, b := tb.podIP["pod-a"], tb.podIP["pod-b"]
	tb.world.addService("web", "10.43.0.10", corev1.ProtocolTCP, a, b) // NodePort 30000
	tb.world.addService("empty", "10.43.0.20", corev1.ProtocolTCP)
	tb.world.addService("sticky", "10.43.0.30", corev1.ProtocolTCP, a, b)
	tb.world.services["sticky"].Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	tb.world.addService("three", "10.43.0.33", corev1.ProtocolTCP, a, b, tb.podIP["pod-c"])
	if st := tb.sync(); !st.Full {
		t.Fatal("first sync was not full")
	}

	t.Run("ClusterIPSpreadsOverEndpoints", func(t *testing.T) {
		seen := tb.spread(tb.client, "10.43.0.10:80", 50)
		if seen["pod-a"] < 5 || seen["pod-b"] < 5 {
			t.Fatalf("50 connections were not spread over both endpoints: %v", seen)
		}
		t.Logf("50 connections: %v", seen)
	})
	t.Run("EvenSpreadOverThree", func(t *testing.T) {
		// Expected 30 each; 12 is four standard deviations below.
		seen := tb.spread(tb.client, "10.43.0.33:80", 90)
		for _, pod := range []string{"pod-a", "pod-b", "pod-c"} {
			if seen[pod] < 12 {
				t.Fatalf("90 connections over three endpoints: %v", seen)
			}
		}
		t.Logf("90 connections: %v", seen)
	})
	t.Run("MasqueradesClientsOutsideClusterCIDR", func(t *testing.T) {
		reply, err := dial(t, tb.client, "10.43.0.10:80")
		if err != nil {
			t.Fatal(err)
		}
		if src := strings.Fields(reply)[1]; src != "10.42.0.1" {
			t.Fatalf("pod saw source %s, want the node's 10.42.0.1", src)
		}
	})
	t.Run("NodePort", func(t *testing.T) {
		seen := tb.spread(tb.client, nodeIP+":30000", 20)
		if len(seen) != 2 {
			t.Fatalf("node port reached %v", seen)
		}
	})
	t.Run("NoEndpointsRefusesAtOnce", func(t *testing.T) {
		for _, addr := range []string{"10.43.0.20:80", "10.43.0.10:81"} {
			start := time.Now()
			_, err := dial(t, tb.client, addr)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("%s: err = %v, want connection refused", addr, err)
			}
			if took := time.Since(start); took > time.Second {
				t.Fatalf("%s: refusal took %v", addr, took)
			}
		}
	})
	t.Run("SessionAffinityClientIP", func(t *testing.T) {
		seen := tb.spread(tb.client, "10.43.0.30:80", 20)
		if len(seen) != 1 {
			t.Fatalf("ClientIP affinity did not stick: %v", seen)
		}
	})
	t.Run("Hairpin", func(t *testing.T) {
		// pod-a reaching its own Service lands on itself about half the
		// time; masquerading makes that work.
		seen := tb.spread(tb.pods["pod-a"], "10.43.0.10:80", 20)
		if seen["pod-a"] == 0 || seen["pod-a"]+seen["pod-b"] != 20 {
			t.Fatalf("hairpin connections: %v", seen)
		}
	})
	t.Run("PodToPodKeepsSource", func(t *testing.T) {
		reply, err := dial(t, tb.pods["pod-a"], "10.43.0.30:80")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(reply); f[0] == "pod-b" && f[1] != a {
			t.Fatalf("pod-b saw %s, want pod-a's own address %s", f[1], a)
		}
	})
	t.Run("ExternalTrafficPolicyLocal", func(t *testing.T) {
		// Only pod-a counts as on this node: external clients reach only
		// it, with their own source address.
		tb.world.addService("local", "10.43.0.40", corev1.ProtocolTCP, a, b)
		tb.world.services["local"].Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		tb.world.slices["local"].Endpoints[0].NodeName = ptr("node-a")
		tb.world.services["local"].Spec.ExternalIPs = []string{"192.168.77.100"}
		ipCmd(t, "-n", tb.client, "route", "add", "192.168.77.100", "via", nodeIP)
		tb.sync()
		nodePort := fmt.Sprint(tb.world.services["local"].Spec.Ports[0].NodePort)
		for _, addr := range []string{nodeIP + ":" + nodePort, "192.168.77.100:80"} {
			for range 10 {
				reply, err := dial(t, tb.client, addr)
				if err != nil {
					t.Fatal(err)
				}
				if f := strings.Fields(reply); f[0] != "pod-a" || f[1] != clientIP {
					t.Fatalf("%s answered %q, want pod-a seeing the client's %s", addr, reply, clientIP)
				}
			}
		}
		// The cluster IP still spreads over both.
		if seen := tb.spread(tb.client, "10.43.0.40:80", 30); len(seen) != 2 {
			t.Fatalf("cluster IP of a Local service: %v", seen)
		}
	})
	t.Run("IncrementalEndpointRemoval", func(t *testing.T) {
		tb.world.setEndpoints("web", corev1.ProtocolTCP, a)
		if st := tb.sync(); st.Full || st.Operations > 10 {
			t.Fatalf("removing one endpoint: full=%v, %d operations", st.Full, st.Operations)
		}
		if seen := tb.spread(tb.client, "10.43.0.10:80", 10); seen["pod-a"] != 10 {
			t.Fatalf("after removing pod-b: %v", seen)
		}
		tb.world.setEndpoints("web", corev1.ProtocolTCP)
		tb.sync()
		if _, err := dial(t, tb.client, "10.43.0.10:80"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("after removing all endpoints: %v", err)
		}
	})
	t.Run("CleanupDeletesTable", func(t *testing.T) {
		inNetns(t, tb.node, func() {
			p := &Proxy{nft: tb.b.nft, health: newHealthServers("", nil)}
			for range 2 {
				if err := p.Cleanup(); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := exec.Command("nft", "list", "tables").CombinedOutput(); err != nil || strings.Contains(string(out), TableName) {
				t.Fatalf("table still there: %v %s", err, out)
			}
		})
	})
}

// TestKernelUDPConntrackCleanup shows why stale UDP flows must go: a
// client that keeps its source port keeps reaching a removed endpoint
// until the flow is deleted.
func TestKernelUDPConntrackCleanup(t *testing.T) {
	tb := newTestbed(t, "pod-a", "pod-b")
	t.Cleanup(func() { inNetns(t, tb.node, func() { _ = deleteTable(context.Background(), tb.b.nft) }) })
	tb.world.addService("dns", "10.43.0.53", corev1.ProtocolUDP, tb.podIP["pod-a"], tb.podIP["pod-b"])
	tb.world.slices["dns"].Ports[0].Port = ptr(int32(5353))
	tb.sync()

	var conn *net.UDPConn
	inNetns(t, tb.client, func() {
		var err error
		if conn, err = net.DialUDP("udp", &net.UDPAddr{Port: 40053}, &net.UDPAddr{IP: net.ParseIP("10.43.0.53"), Port: 80}); err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close()
	ask := func() string {
		t.Helper()
		if _, err := conn.Write([]byte("?")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no UDP answer: %v", err)
		}
		return strings.Fields(string(buf[:n]))[0]
	}
	first := ask()
	other := map[string]string{"pod-a": "pod-b", "pod-b": "pod-a"}[first]

	// The endpoint that answered leaves the Service (its pod lives on).
	prev := Compute(tb.world.input()).UDP
	tb.world.setEndpoints("dns", corev1.ProtocolUDP, tb.podIP[other])
	tb.world.slices["dns"].Ports[0].Port = ptr(int32(5353))
	tb.sync()
	if got := ask(); got != first {
		t.Fatalf("before conntrack cleanup the flow moved to %s; the test proves nothing", got)
	}
	next := Compute(tb.world.input()).UDP
	targets := udpTargets(prev, next)
	if targets == nil {
		t.Fatal("removing a UDP endpoint was not seen as a change")
	}
	var deleted int
	inNetns(t, tb.node, func() {
		var err error
		if deleted, err = cleanUDPConntrack(targets); err != nil {
			t.Fatal(err)
		}
	})
	if deleted != 1 {
		t.Errorf("deleted %d flows, want 1", deleted)
	}
	if got := ask(); got != other {
		t.Fatalf("after cleanup the flow still reaches %s", got)
	}
}

// TestKernelLoadsGoldenRulesets applies every golden case to the real
// kernel: the text the golden files pin is text nftables accepts.
func TestKernelLoadsGoldenRulesets(t *testing.T) {
	requireNetns(t)
	ns := newNetns(t, "pxt-golden")
	inputs, _ := filepath.Glob("testdata/*.yaml")
	inNetns(t, ns, func() {
		nft, err := knftables.New(knftables.IPv4Family, TableName)
		if err != nil {
			t.Skipf("nftables unusable: %v", err)
		}
		b := &backend{nft: nft}
		for _, path := range inputs {
			rs := Compute(loadInput(t, path))
			if _, err := b.apply(context.Background(), &rs); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		if err := deleteTable(context.Background(), nft); err != nil {
			t.Fatal(err)
		}
	})
}
