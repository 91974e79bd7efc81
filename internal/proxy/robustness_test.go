package proxy

import (
	"context"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/knftables"
)

// TestComputeToleratesBadInput feeds objects the API would not normally
// hold: Compute must skip what it cannot use, never panic, and still
// produce a table nftables accepts.
func TestComputeToleratesBadInput(t *testing.T) {
	udp := corev1.ProtocolUDP
	in := Input{
		Node: Node{Name: "n", IPs: []net.IP{nil, net.ParseIP("::1"), net.ParseIP("127.0.0.1")}},
		Services: []*corev1.Service{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "garbage-ip"}, Spec: corev1.ServiceSpec{ClusterIP: "not-an-ip", Ports: []corev1.ServicePort{{Port: 80}}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "no-ports"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "ok"}, Spec: corev1.ServiceSpec{
				ClusterIP: "10.43.0.2", ExternalIPs: []string{"bogus", "fd00::1"},
				Ports: []corev1.ServicePort{{Port: 53, Protocol: udp}}}},
		},
		EndpointSlices: []*discoveryv1.EndpointSlice{
			unusableSlice("ok", []discoveryv1.EndpointPort{{Protocol: &udp}}), // port without a number
			unusableSlice("ok", []discoveryv1.EndpointPort{{Port: ptr(int32(70000)), Protocol: &udp}}),
			{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "unlabelled"}, AddressType: discoveryv1.AddressTypeIPv4},
		},
	}
	in.EndpointSlices[0].Endpoints = []discoveryv1.Endpoint{{}, {Addresses: []string{"nope"}}, {Addresses: []string{"fd00::2"}}}
	rs := Compute(in)
	if len(rs.Sets[setNodePortIPs].Elements) != 0 {
		t.Errorf("loopback/IPv6/nil node IPs served NodePorts: %v", rs.Sets[setNodePortIPs].Elements)
	}
	if rs.Maps[mapNoEndpointServices].Elements["10.43.0.2 . udp . 53"] != verdictReject {
		t.Errorf("service with only unusable endpoints should reject: %v", rs.Maps[mapNoEndpointServices].Elements)
	}
	if _, err := (&backend{nft: knftables.NewFake(knftables.IPv4Family, TableName)}).apply(context.Background(), &rs); err != nil {
		t.Fatal(err)
	}
}

func unusableSlice(svc string, ports []discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "x", Name: svc + "-s", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.1"}}},
	}
}

func TestConfigValidate(t *testing.T) {
	_, v6, _ := net.ParseCIDR("fd00::/64")
	if err := (&Config{ClusterCIDR: v6}).Validate(); err == nil {
		t.Error("an IPv6 cluster CIDR was accepted")
	}
	if err := (&Config{MinSyncPeriod: -1}).Validate(); err == nil {
		t.Error("a negative MinSyncPeriod was accepted")
	}
	c := Config{}
	if err := c.Validate(); err != nil || c.MinSyncPeriod != 1e9 || c.Logger == nil {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	p, err := New(Config{NFT: knftables.NewFake(knftables.IPv4Family, TableName)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err == nil {
		t.Error("Run without a client succeeded")
	}
}
