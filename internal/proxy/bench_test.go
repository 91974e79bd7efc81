package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/knftables"
)

// scaleInput is n ClusterIP Services of one TCP port with epsPer ready
// endpoints each. Endpoint addresses repeat after 65,000 (one pod may
// back several Services).
func scaleInput(n, epsPer int) Input {
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	in := Input{Node: Node{Name: "node-a", IPs: []net.IP{net.ParseIP("192.168.77.1")}}, Options: Options{ClusterCIDR: cidr}}
	base := netip.MustParseAddr("10.43.0.0").As4()
	for i := range n {
		ip := base
		ip[2], ip[3] = byte((i+1)>>8), byte(i+1)
		name := fmt.Sprintf("svc-%05d", i)
		in.Services = append(in.Services, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: netip.AddrFrom4(ip).String(),
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		})
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "bench", Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
		}
		for j := range epsPer {
			k := (i*epsPer+j)%65000 + 1
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.42.%d.%d", k>>8, k&0xff)}})
		}
		in.EndpointSlices = append(in.EndpointSlices, s)
	}
	return in
}

// toggleEndpoint removes service i's first endpoint, or puts it back.
func toggleEndpoint(in *Input, i int, removed *discoveryv1.Endpoint) *discoveryv1.Endpoint {
	s := in.EndpointSlices[i].DeepCopy()
	in.EndpointSlices[i] = s
	if removed == nil {
		e := s.Endpoints[0]
		s.Endpoints = s.Endpoints[1:]
		return &e
	}
	s.Endpoints = append([]discoveryv1.Endpoint{*removed}, s.Endpoints...)
	return nil
}

// scaleNFT returns the real nftables in a fresh namespace when the test
// may make one, else the in-memory fake, and runs fn in that namespace.
func scaleNFT(tb testing.TB) (knftables.Interface, func(func()), string) {
	if os.Geteuid() == 0 {
		if _, err := os.Stat("/usr/sbin/nft"); err == nil {
			ns := newNetns(tb, "pxt-bench")
			var nft knftables.Interface
			var err error
			inNetns(tb, ns, func() { nft, err = knftables.New(knftables.IPv4Family, TableName) })
			if err == nil {
				return nft, func(fn func()) { inNetns(tb, ns, fn) }, "kernel"
			}
		}
	}
	return knftables.NewFake(knftables.IPv4Family, TableName), func(fn func()) { fn() }, "fake"
}

// BenchmarkSync measures a whole sync (Compute + apply) for 1,000, 5,000
// and 10,000 Services × 10 endpoints: a full resync, and an incremental
// one after one endpoint changed. It uses the real kernel (in a network
// namespace of its own) when run as root.
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 5000, 10000} {
		in := scaleInput(n, 10)
		nft, run, _ := scaleNFT(b)
		be := &backend{nft: nft}
		b.Run(fmt.Sprintf("services=%d/full", n), func(b *testing.B) {
			for b.Loop() {
				be.forceFull()
				rs := Compute(in)
				run(func() {
					if _, err := be.apply(context.Background(), &rs); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
		b.Run(fmt.Sprintf("services=%d/incremental", n), func(b *testing.B) {
			var removed *discoveryv1.Endpoint
			for b.Loop() {
				removed = toggleEndpoint(&in, n/2, removed)
				rs := Compute(in)
				run(func() {
					st, err := be.apply(context.Background(), &rs)
					if err != nil || st.Full {
						b.Fatalf("full=%v err=%v", st.Full, err)
					}
				})
			}
		})
	}
}

// TestSyncScale prints the benchmark's numbers as a table, split into
// compute and apply time. Set SKIFF_PROXY_SCALE=1 to run it (it takes a
// minute or two against the kernel).
func TestSyncScale(t *testing.T) {
	if os.Getenv("SKIFF_PROXY_SCALE") == "" {
		t.Skip("set SKIFF_PROXY_SCALE=1 to measure sync times at scale")
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| services × endpoints | sync | compute | apply | nft commands |\n|---|---|---|---|---|\n")
	for _, n := range []int{1000, 5000, 10000} {
		in := scaleInput(n, 10)
		nft, run, where := scaleNFT(t)
		be := &backend{nft: nft}
		measure := func(kind string) {
			start := time.Now()
			rs := Compute(in)
			computed := time.Since(start)
			var st syncStats
			run(func() {
				var err error
				if st, err = be.apply(context.Background(), &rs); err != nil {
					t.Fatal(err)
				}
			})
			applied := time.Since(start) - computed
			fmt.Fprintf(&table, "| %d × 10 (%s) | %s | %v | %v | %d |\n", n, where, kind,
				computed.Round(time.Millisecond), applied.Round(time.Millisecond), st.Operations)
		}
		measure("full")
		var removed *discoveryv1.Endpoint
		for range 3 {
			removed = toggleEndpoint(&in, n/2, removed)
			measure("incremental")
		}
	}
	t.Logf("\n%s", table.String())
}

// BenchmarkCompute is Compute alone for 10,000 Services × 10 endpoints.
func BenchmarkCompute(b *testing.B) {
	in := scaleInput(10000, 10)
	for b.Loop() {
		Compute(in)
	}
}
