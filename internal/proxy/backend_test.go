package proxy

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/knftables"
)

// world is a small cluster state a test edits between syncs.
type world struct {
	services map[string]*corev1.Service
	slices   map[string]*discoveryv1.EndpointSlice
}

func newWorld() *world {
	return &world{services: map[string]*corev1.Service{}, slices: map[string]*discoveryv1.EndpointSlice{}}
}

func (w *world) input() Input {
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	in := Input{Node: Node{Name: "node-a", IPs: []net.IP{net.ParseIP("192.168.50.10")}},
		Options: Options{ClusterCIDR: cidr}}
	for _, k := range sortedKeys(w.services) {
		in.Services = append(in.Services, w.services[k])
	}
	for _, k := range sortedKeys(w.slices) {
		in.EndpointSlices = append(in.EndpointSlices, w.slices[k])
	}
	return in
}

// addService adds a Service with one TCP port 80 → 8080 and the given
// endpoint IPs (all ready).
func (w *world) addService(name, clusterIP string, proto corev1.Protocol, endpoints ...string) {
	w.services[name] = &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: clusterIP, Ports: []corev1.ServicePort{{
			Name: "p", Port: 80, Protocol: proto, TargetPort: intstr.FromInt32(8080), NodePort: 30000 + int32(len(w.services))}}},
	}
	w.setEndpoints(name, proto, endpoints...)
}

func (w *world) setEndpoints(name string, proto corev1.Protocol, ips ...string) {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("p"), Port: ptr(int32(8080)), Protocol: &proto}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr("node-b")})
	}
	w.slices[name] = s
}

func ptr[T any](v T) *T { return &v }

// normalizedDump is the fake's dump with set and map elements sorted:
// incremental syncs append elements in a different order than a full
// one writes them, which nftables does not care about. Rules keep their
// order.
func normalizedDump(f *knftables.Fake) string {
	var rest, elems []string
	for _, l := range strings.Split(f.Dump(), "\n") {
		if strings.HasPrefix(l, "add element ") {
			elems = append(elems, l)
		} else {
			rest = append(rest, l)
		}
	}
	slices.Sort(elems)
	return strings.Join(rest, "\n") + strings.Join(elems, "\n")
}

// step syncs w incrementally into inc and checks that the result equals
// a full sync of the same state into a fresh table. It returns the
// incremental transaction.
func step(t *testing.T, b *backend, inc *knftables.Fake, w *world) (syncStats, string) {
	t.Helper()
	rs := Compute(w.input())
	st, err := b.apply(context.Background(), &rs)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, inc.LastTransaction)
	}
	tx := ""
	if st.Operations > 0 {
		tx = inc.LastTransaction.String()
	}
	full := knftables.NewFake(knftables.IPv4Family, TableName)
	again := Compute(w.input())
	if _, err := (&backend{nft: full}).apply(context.Background(), &again); err != nil {
		t.Fatal(err)
	}
	if got, want := normalizedDump(inc), normalizedDump(full); got != want {
		t.Fatalf("incremental table differs from a full sync:\n%s", lineDiff(want, got))
	}
	return st, tx
}

func TestIncrementalSyncTouchesOnlyWhatChanged(t *testing.T) {
	w := newWorld()
	for i := range 20 {
		w.addService(fmt.Sprintf("svc-%02d", i), fmt.Sprintf("10.43.0.%d", 10+i), corev1.ProtocolTCP,
			fmt.Sprintf("10.42.1.%d", 10+i), fmt.Sprintf("10.42.2.%d", 10+i))
	}
	fake := knftables.NewFake(knftables.IPv4Family, TableName)
	b := &backend{nft: fake}

	st, tx := step(t, b, fake, w)
	if !st.Full || !strings.Contains(tx, "delete table ip skiff-proxy") {
		t.Fatalf("first sync must replace the table, got full=%v:\n%s", st.Full, tx)
	}

	st, _ = step(t, b, fake, w)
	if st.Full || st.Operations != 0 {
		t.Fatalf("a sync without changes did %d operations (full=%v)", st.Operations, st.Full)
	}

	// One endpoint more for svc-07: its endpoint chain is created and its
	// service chain rewritten; nothing else.
	w.setEndpoints("svc-07", corev1.ProtocolTCP, "10.42.1.17", "10.42.2.17", "10.42.3.17")
	st, tx = step(t, b, fake, w)
	wantOnly(t, st, tx, []string{
		"add chain ip skiff-proxy endpoint-default/svc-07/tcp/p__10.42.3.17/8080",
		"flush chain ip skiff-proxy service-default/svc-07/tcp/p",
		"add rule ip skiff-proxy service-default/svc-07/tcp/p ",
		"add rule ip skiff-proxy endpoint-default/svc-07/tcp/p__10.42.3.17/8080 ",
	})

	// And removed again: the chain goes, the service chain is rewritten.
	w.setEndpoints("svc-07", corev1.ProtocolTCP, "10.42.1.17", "10.42.2.17")
	st, tx = step(t, b, fake, w)
	wantOnly(t, st, tx, []string{
		"flush chain ip skiff-proxy endpoint-default/svc-07/tcp/p__10.42.3.17/8080",
		"delete chain ip skiff-proxy endpoint-default/svc-07/tcp/p__10.42.3.17/8080",
		"flush chain ip skiff-proxy service-default/svc-07/tcp/p",
		"add rule ip skiff-proxy service-default/svc-07/tcp/p ",
	})

	// No endpoints left: the map elements move from the service maps to
	// the reject maps, and the service's chains go.
	w.setEndpoints("svc-03", corev1.ProtocolTCP)
	st, tx = step(t, b, fake, w)
	wantOnly(t, st, tx, []string{
		"delete element ip skiff-proxy service-ips { 10.43.0.13 . tcp . 80 }",
		"delete element ip skiff-proxy service-nodeports { tcp . 30003 }",
		"add element ip skiff-proxy no-endpoint-services { 10.43.0.13 . tcp . 80 : goto reject-chain }",
		"add element ip skiff-proxy no-endpoint-nodeports { tcp . 30003 : goto reject-chain }",
		"flush chain ip skiff-proxy service-default/svc-03/tcp/p",
		"flush chain ip skiff-proxy external-default/svc-03/tcp/p",
		"flush chain ip skiff-proxy endpoint-default/svc-03/tcp/p__",
		"delete chain ip skiff-proxy service-default/svc-03/tcp/p",
		"delete chain ip skiff-proxy external-default/svc-03/tcp/p",
		"delete chain ip skiff-proxy endpoint-default/svc-03/tcp/p__",
	})

	// A Service deleted, another added.
	delete(w.services, "svc-05")
	delete(w.slices, "svc-05")
	w.addService("svc-new", "10.43.1.1", corev1.ProtocolUDP, "10.42.9.9")
	st, tx = step(t, b, fake, w)
	if st.Full || strings.Contains(tx, "svc-04") || strings.Contains(tx, "table") {
		t.Fatalf("delete+add touched more than the two services:\n%s", tx)
	}
}

// wantOnly checks an incremental transaction: each of its lines must
// start with one of the prefixes, and each prefix must be used.
func wantOnly(t *testing.T, st syncStats, tx string, prefixes []string) {
	t.Helper()
	if st.Full {
		t.Fatalf("expected an incremental sync, got a full one:\n%s", tx)
	}
	used := make([]bool, len(prefixes))
	for _, line := range strings.Split(strings.TrimSpace(tx), "\n") {
		ok := false
		for i, p := range prefixes {
			if strings.HasPrefix(line, p) {
				ok, used[i] = true, true
			}
		}
		if !ok {
			t.Errorf("unexpected command in the incremental transaction: %s", line)
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("no command starting %q in:\n%s", prefixes[i], tx)
		}
	}
}

func TestIncrementalSyncKeepsAffinityState(t *testing.T) {
	w := newWorld()
	w.addService("sticky", "10.43.0.10", corev1.ProtocolTCP, "10.42.1.1", "10.42.1.2")
	w.services["sticky"].Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	fake := knftables.NewFake(knftables.IPv4Family, TableName)
	b := &backend{nft: fake}
	step(t, b, fake, w)

	// The packet path remembers a client.
	set := "affinity-default/sticky/tcp/p__10.42.1.1/8080"
	tx := fake.NewTransaction()
	tx.Add(&knftables.Element{Set: set, Key: []string{"192.168.7.7"}})
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	w.addService("other", "10.43.0.11", corev1.ProtocolTCP, "10.42.1.3")
	rs := Compute(w.input())
	if _, err := b.apply(context.Background(), &rs); err != nil {
		t.Fatal(err)
	}
	if fake.Table.Sets[set] == nil || len(fake.Table.Sets[set].Elements) != 1 {
		t.Fatalf("an unrelated sync lost the affinity set's client:\n%s", fake.LastTransaction)
	}

	// A new timeout redeclares the sets: the table is replaced.
	w.services["sticky"].Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
	if st, _ := step(t, b, fake, w); !st.Full {
		t.Fatal("changing the affinity timeout did not resync fully")
	}
}

func TestFailedSyncForcesFullResync(t *testing.T) {
	w := newWorld()
	w.addService("a", "10.43.0.10", corev1.ProtocolTCP, "10.42.1.1")
	fake := knftables.NewFake(knftables.IPv4Family, TableName)
	b := &backend{nft: fake}
	step(t, b, fake, w)

	// Someone deletes the table behind the proxy's back; the next
	// incremental sync fails, and the one after rebuilds everything.
	if err := deleteTable(context.Background(), fake); err != nil {
		t.Fatal(err)
	}
	w.setEndpoints("a", corev1.ProtocolTCP, "10.42.1.1", "10.42.1.2")
	rs := Compute(w.input())
	if _, err := b.apply(context.Background(), &rs); err == nil {
		t.Fatal("an incremental sync against a missing table succeeded")
	}
	if st, _ := step(t, b, fake, w); !st.Full {
		t.Fatal("the sync after a failure was not full")
	}
}

func TestDeleteTableIsIdempotent(t *testing.T) {
	fake := knftables.NewFake(knftables.IPv4Family, TableName)
	for range 2 {
		if err := deleteTable(context.Background(), fake); err != nil {
			t.Fatal(err)
		}
	}
}
