package servicelb

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPool(t *testing.T) {
	a := netip.MustParseAddr
	p, err := newPool([]netip.Prefix{netip.MustParsePrefix("192.168.5.0/30")},
		[]IPRange{{a("10.0.0.7"), a("10.0.0.8")}, {a("fd00::1"), a("fd00::1")}})
	if err != nil {
		t.Fatal(err)
	}
	// The /30 leaves out .0 and .3.
	for ip, in := range map[string]bool{"192.168.5.0": false, "192.168.5.1": true, "192.168.5.2": true, "192.168.5.3": false,
		"10.0.0.6": false, "10.0.0.7": true, "10.0.0.8": true, "fd00::1": true, "fd00::2": false} {
		if p.contains(a(ip)) != in {
			t.Errorf("contains(%s) = %v", ip, !in)
		}
	}
	if !p.assign("ns/want", a("10.0.0.8")) || !p.assign("ns/want", a("10.0.0.8")) {
		t.Fatal("assign of a free address failed")
	}
	if p.assign("ns/other", a("10.0.0.8")) || p.assign("ns/other", a("10.9.9.9")) {
		t.Fatal("assigned a held or outside address")
	}
	var got []string
	for _, k := range []string{"ns/a", "ns/b", "ns/c", "ns/a"} {
		ip, ok := p.allocate(k, true)
		got = append(got, ip.String())
		if !ok {
			t.Fatalf("allocate %s failed", k)
		}
	}
	if want := []string{"192.168.5.1", "192.168.5.2", "10.0.0.7", "192.168.5.1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allocations %v, want %v", got, want)
	}
	if ip, ok := p.allocate("ns/d", true); ok {
		t.Errorf("exhausted pool gave %s", ip)
	}
	if ip, ok := p.allocate("ns/v6", false); !ok || ip != a("fd00::1") {
		t.Errorf("IPv6 allocation: %v %v", ip, ok)
	}
	if !p.release("ns/b") || p.release("ns/b") {
		t.Error("release should report once")
	}
	if ip, ok := p.allocate("ns/d", true); !ok || ip != a("192.168.5.2") {
		t.Errorf("after release: %v %v", ip, ok)
	}
	// Moving a key to a requested address frees its old one.
	if p.assign("ns/d", a("10.0.0.8")) {
		t.Fatal("took an address another key holds")
	}
	p.release("ns/want")
	if !p.assign("ns/d", a("10.0.0.8")) {
		t.Fatal("assign after release failed")
	}
	if ip, ok := p.allocate("ns/e", true); !ok || ip != a("192.168.5.2") {
		t.Errorf("the moved key's old address: %v %v", ip, ok)
	}

	for _, bad := range [][]IPRange{{{a("10.0.0.9"), a("10.0.0.1")}}, {{a("10.0.0.1"), a("fd00::1")}}, nil} {
		if _, err := newPool(nil, bad); err == nil {
			t.Errorf("newPool(%v) accepted", bad)
		}
	}
}

func TestNodeAddresses(t *testing.T) {
	node := func(name string, ready, unsched bool, addrs ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: unsched}}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
		for i := 0; i < len(addrs); i += 2 {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeAddressType(addrs[i]), Address: addrs[i+1]})
		}
		return n
	}
	excluded := node("x", true, false, "InternalIP", "10.0.0.9")
	excluded.Labels = map[string]string{LabelExcludeFromLB: ""}
	nodes := []*corev1.Node{
		node("b", true, false, "InternalIP", "10.0.0.2"),
		node("a", true, false, "InternalIP", "10.0.0.10", "ExternalIP", "203.0.113.1", "InternalIP", "fd00::a"),
		node("c", false, false, "InternalIP", "10.0.0.3"),
		node("d", true, true, "InternalIP", "10.0.0.4"),
		node("e", true, false, "Hostname", "e"),
		excluded,
	}
	str := func(as []netip.Addr) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.String())
		}
		return out
	}
	v4 := []corev1.IPFamily{corev1.IPv4Protocol}
	if got, want := str(nodeAddresses(nodes, v4)), []string{"10.0.0.2", "203.0.113.1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ready nodes: %v, want %v", got, want)
	}
	if got, want := str(nodeAddresses(nodes, nil)), []string{"10.0.0.2", "203.0.113.1", "fd00::a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("both families: %v, want %v", got, want)
	}
	// None Ready and schedulable: all of them (but the excluded one).
	if got, want := str(nodeAddresses(nodes[2:], v4)), []string{"10.0.0.3", "10.0.0.4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("no ready nodes: %v, want %v", got, want)
	}
	if got := nodeAddresses(nil, v4); len(got) != 0 {
		t.Errorf("no nodes: %v", got)
	}
}
