package network

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func TestPeerRoutes(t *testing.T) {
	nodes := []*corev1.Node{
		testNode("self", "10.42.0.0/24", "192.168.1.1"),
		testNode("b", "10.42.1.0/24", "192.168.1.2"),
		testNode("no-cidr", "", "192.168.1.3"),
		testNode("no-ip", "10.42.3.0/24", ""),
		testNode("v6-ip-only", "10.42.4.0/24", "fd00::4"),
		testNode("bad", "10.42.5.0/33", "192.168.1.5"),
		testNode("a", "10.42.2.7/24", "192.168.1.4"), // unmasked CIDR
	}
	dual := testNode("dual", "10.42.6.0/24", "192.168.1.6")
	dual.Spec.PodCIDRs = []string{"10.42.6.0/24", "fd42:6::/64"}
	dual.Status.Addresses = append(dual.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::6"})
	nodes = append(nodes, dual)

	var got []string
	for _, p := range peerRoutes("self", nodes) {
		got = append(got, fmt.Sprintf("%s %s via %s", p.node, p.dst, p.gw))
	}
	want := []string{
		"a 10.42.2.0/24 via 192.168.1.4",
		"b 10.42.1.0/24 via 192.168.1.2",
		"dual 10.42.6.0/24 via 192.168.1.6",
		"dual fd42:6::/64 via fd00::6",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("peerRoutes:\n got %q\nwant %q", got, want)
	}
}

func testNode(name, podCIDR, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
	if podCIDR != "" {
		n.Spec.PodCIDRs = []string{podCIDR}
	}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

// requireNetns skips unless the test can make network namespaces.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) not installed")
	}
}

// newNetns makes a named network namespace, deleted when the test ends,
// and a netlink handle into it.
func newNetns(t *testing.T, name string) *netlink.Handle {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// twoHosts makes namespaces A and B joined by a veth, 192.168.77.1/24 in
// A and .2 in B, with 10.42.1.1 on B's loopback standing in for B's pods.
// It returns A's handle and A's name.
func twoHosts(t *testing.T) (*netlink.Handle, string) {
	id := fmt.Sprintf("sk%06x", rand.IntN(1<<24))
	a, b := id+"a", id+"b"
	h := newNetns(t, a)
	newNetns(t, b)
	run(t, "ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
	run(t, "ip", "-n", a, "addr", "add", "192.168.77.1/24", "dev", "eth0")
	run(t, "ip", "-n", b, "addr", "add", "192.168.77.2/24", "dev", "eth0")
	run(t, "ip", "-n", b, "addr", "add", "10.42.1.1/32", "dev", "lo")
	for _, ns := range []string{a, b} {
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	}
	return h, a
}

// ownedRoutes is the owned routes in h's namespace as "dst via gw".
func ownedRoutes(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	rts, err := listRoutes(h, &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rts {
		out = append(out, fmt.Sprintf("%s via %s", r.Dst, r.Gw))
	}
	return out
}

func waitRoutes(t *testing.T, h *netlink.Handle, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = ownedRoutes(t, h); reflect.DeepEqual(got, want) || (len(got) == 0 && len(want) == 0) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("owned routes:\n got %q\nwant %q", got, want)
}

func startRoutes(t *testing.T, client kubernetes.Interface, h *netlink.Handle) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	r, err := NewRoutes(f.Core().V1().Nodes(), RoutesOptions{NodeName: "a", NodeIP: net.ParseIP("192.168.77.1"),
		Handle: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
		f.Shutdown()
	})
}

func TestRoutes(t *testing.T) {
	requireNetns(t)
	h, nsA := twoHosts(t)
	ctx := context.Background()

	// Left by an earlier run: an owned route no node wants.
	stale := &netlink.Route{Dst: mustCIDR("10.42.9.0/24"), Gw: net.ParseIP("192.168.77.9"), Protocol: RouteProtocol}
	if err := h.RouteAdd(stale); err != nil {
		t.Fatal(err)
	}
	// Someone else's routes: never touched, and a pod CIDR they route is
	// not routed by skiff.
	run(t, "ip", "-n", nsA, "route", "add", "10.50.0.0/24", "via", "192.168.77.2", "proto", "static")
	run(t, "ip", "-n", nsA, "route", "add", "10.42.7.0/24", "via", "192.168.77.2", "proto", "static")

	client := fake.NewClientset(
		testNode("a", "10.42.0.0/24", "192.168.77.1"),
		testNode("b", "10.42.1.0/24", "192.168.77.2"),
		testNode("c", "10.42.2.0/24", "192.168.77.3"),
		testNode("far", "10.42.3.0/24", "10.99.0.5"), // not on a connected subnet
		testNode("pending", "", "192.168.77.4"),
		testNode("clash", "10.42.7.0/24", "192.168.77.7"),
	)
	startRoutes(t, client, h)
	waitRoutes(t, h, "10.42.1.0/24 via 192.168.77.2", "10.42.2.0/24 via 192.168.77.3")

	if _, err := exec.LookPath("busybox"); err == nil {
		if out, err := exec.Command("ip", "netns", "exec", nsA, "busybox", "ping", "-c1", "-W2", "10.42.1.1").CombinedOutput(); err != nil {
			t.Errorf("ping B's pod address through the route: %v: %s", err, out)
		}
	}

	// A node's IP changes: its route follows.
	c, _ := client.CoreV1().Nodes().Get(ctx, "c", metav1.GetOptions{})
	c.Status.Addresses[1].Address = "192.168.77.30"
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, h, "10.42.1.0/24 via 192.168.77.2", "10.42.2.0/24 via 192.168.77.30")

	// A node gets its pod CIDR.
	p, _ := client.CoreV1().Nodes().Get(ctx, "pending", metav1.GetOptions{})
	p.Spec.PodCIDR, p.Spec.PodCIDRs = "10.42.4.0/24", []string{"10.42.4.0/24"}
	if _, err := client.CoreV1().Nodes().Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, h, "10.42.1.0/24 via 192.168.77.2", "10.42.2.0/24 via 192.168.77.30", "10.42.4.0/24 via 192.168.77.4")

	// A node is deleted: its route goes.
	if err := client.CoreV1().Nodes().Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, h, "10.42.1.0/24 via 192.168.77.2", "10.42.4.0/24 via 192.168.77.4")

	// A route removed behind skiff's back comes back on the next sync.
	if err := h.RouteDel(&netlink.Route{Dst: mustCIDR("10.42.1.0/24"), Protocol: RouteProtocol}); err != nil {
		t.Fatal(err)
	}
	b, _ := client.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
	b.Labels = map[string]string{"touched": "yes"} // not a route change: no sync
	if _, err := client.CoreV1().Nodes().Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Nodes().Delete(ctx, "far", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err) // a delete always syncs
	}
	waitRoutes(t, h, "10.42.1.0/24 via 192.168.77.2", "10.42.4.0/24 via 192.168.77.4")

	if err := CleanupRoutes(h); err != nil {
		t.Fatal(err)
	}
	if got := ownedRoutes(t, h); len(got) != 0 {
		t.Errorf("owned routes after cleanup: %q", got)
	}
	for _, dst := range []string{"10.50.0.0/24", "10.42.7.0/24"} {
		if rts, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: mustCIDR(dst)}, netlink.RT_FILTER_DST); err != nil || len(rts) != 1 {
			t.Errorf("foreign route %s: %v, %v", dst, rts, err)
		}
	}
	if err := CleanupRoutes(h); err != nil {
		t.Errorf("second cleanup: %v", err)
	}
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}
