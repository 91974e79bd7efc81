package dns_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

// Objects for the server tests and assertions on answers.

// deadUDPAddr is a loopback address nothing listens on: questions to it
// fail at once (ICMP port unreachable).
func deadUDPAddr(t testing.TB) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func createService(t testing.TB, ctx context.Context, client kubernetes.Interface, svc *corev1.Service) *corev1.Service {
	t.Helper()
	out, err := client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return out
}

type endpointSpec struct {
	ip, hostname string
	ready        bool
}

func createSlice(t testing.TB, ctx context.Context, client kubernetes.Interface, ns, service, name string, port int32, eps []endpointSpec) *discoveryv1.EndpointSlice {
	t.Helper()
	portName, proto := "", corev1.ProtocolTCP
	svc, err := client.CoreV1().Services(ns).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	portName = svc.Spec.Ports[0].Name
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(e.ready)}}
		if e.hostname != "" {
			ep.Hostname = ptr(e.hostname)
		}
		slice.Endpoints = append(slice.Endpoints, ep)
	}
	out, err := client.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create endpointslice %s/%s: %v", ns, name, err)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// wantAnswer checks rcode and the answer section's data, in any order.
func wantAnswer(t testing.TB, r *dns.Msg, rcode int, want ...string) {
	t.Helper()
	if err := checkAnswer(r, rcode, want...); err != nil {
		t.Error(err)
	}
}

func checkAnswer(r *dns.Msg, rcode int, want ...string) error {
	got := rdata(r.Answer)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if r.Rcode != rcode || !slices.Equal(got, want) {
		return fmt.Errorf("%s: %s %q, want %s %q", r.Question[0].Name, dns.RcodeToString[r.Rcode], got, dns.RcodeToString[rcode], want)
	}
	return nil
}

func wantExtra(t testing.TB, r *dns.Msg, want ...string) {
	t.Helper()
	var got []string
	for _, s := range rdata(r.Extra) {
		if net.ParseIP(s) != nil {
			got = append(got, s)
		}
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: additional addresses %q, want %q", r.Question[0].Name, got, want)
	}
}

// wantNegative checks a negative answer: rcode (NXDOMAIN, or NOERROR for
// NODATA), no answers, and the zone's SOA in the authority section.
func wantNegative(t testing.TB, r *dns.Msg, rcode int) {
	t.Helper()
	if r.Rcode != rcode || len(r.Answer) != 0 {
		t.Errorf("%s: %s with %d answers, want %s and none", r.Question[0].Name, dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[rcode])
		return
	}
	if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("%s: authority %v, want the SOA", r.Question[0].Name, r.Ns)
	}
}

// waitAnswer polls until the A answer for name is rcode with want.
func waitAnswer(t testing.TB, addr, name string, rcode int, want ...string) {
	t.Helper()
	controllertest.Eventually(t.(*testing.T), 10*time.Second, func() error {
		r, err := exchange(addr, query{name: name, qtype: dns.TypeA, net: "tcp"})
		if err != nil {
			return err
		}
		return checkAnswer(r, rcode, want...)
	})
}
