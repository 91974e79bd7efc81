package resources

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// fakeIPs is an in-memory IPv4 IPAllocator: offsets 1..size-2 of its
// CIDR, handed out lowest first. It records what is held, nothing more.
type fakeIPs struct {
	cidr *net.IPNet
	used map[string]bool
}

func newFakeIPs(t *testing.T, cidr string) *fakeIPs {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeIPs{cidr: n, used: map[string]bool{}}
}

var _ IPAllocator = (*fakeIPs)(nil)

func (f *fakeIPs) CIDR() *net.IPNet { return f.cidr }

func (f *fakeIPs) bounds() (base, size uint32) {
	ones, bits := f.cidr.Mask.Size()
	return binary.BigEndian.Uint32(f.cidr.IP.To4()), 1 << (bits - ones)
}

func (f *fakeIPs) Allocate(_ context.Context, ip net.IP) error {
	base, size := f.bounds()
	v := binary.BigEndian.Uint32(ip.To4())
	if !f.cidr.Contains(ip) || v == base || v == base+size-1 {
		return ErrNotInRange
	}
	if f.used[ip.String()] {
		return ErrAllocated
	}
	f.used[ip.String()] = true
	return nil
}

func (f *fakeIPs) AllocateNext(ctx context.Context) (net.IP, error) {
	base, size := f.bounds()
	for v := base + 1; v < base+size-1; v++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, v)
		if !f.used[ip.String()] {
			return ip, f.Allocate(ctx, ip)
		}
	}
	return nil, ErrFull
}

func (f *fakeIPs) Release(_ context.Context, ip net.IP) error {
	delete(f.used, ip.String())
	return nil
}

func (f *fakeIPs) held() []string { return slices.Sorted(maps.Keys(f.used)) }

// fakePorts is an in-memory PortAllocator handing out the lowest free
// port first.
type fakePorts struct {
	base, size int
	used       map[int]bool
}

var _ PortAllocator = (*fakePorts)(nil)

func newFakePorts(base, size int) *fakePorts {
	return &fakePorts{base: base, size: size, used: map[int]bool{}}
}

func (f *fakePorts) Base() int { return f.base }
func (f *fakePorts) Size() int { return f.size }

func (f *fakePorts) Allocate(_ context.Context, port int) error {
	if port < f.base || port >= f.base+f.size {
		return ErrNotInRange
	}
	if f.used[port] {
		return ErrAllocated
	}
	f.used[port] = true
	return nil
}

func (f *fakePorts) AllocateNext(ctx context.Context) (int, error) {
	for p := f.base; p < f.base+f.size; p++ {
		if !f.used[p] {
			return p, f.Allocate(ctx, p)
		}
	}
	return 0, ErrFull
}

func (f *fakePorts) Release(_ context.Context, port int) error {
	delete(f.used, port)
	return nil
}

func (f *fakePorts) held() []int { return slices.Sorted(maps.Keys(f.used)) }

// serviceFixture is a Services resource over fresh fake allocators
// (10.43.0.0/16, ports 30000-32767).
type serviceFixture struct {
	r     *Resource
	ips   *fakeIPs
	ports *fakePorts
}

func newServiceFixture(t *testing.T) *serviceFixture {
	f := &serviceFixture{ips: newFakeIPs(t, "10.43.0.0/16"), ports: newFakePorts(30000, 2768)}
	f.r = Services(f.ips, f.ports)
	return f
}

// create runs svc through the create hooks as the apiserver does and
// returns the undo and the first error.
func (f *serviceFixture) create(svc *corev1.Service, dryRun bool) (func(), error) {
	f.r.Default(svc)
	f.r.PrepareForCreate(svc)
	if errs := f.r.Validate(svc); len(errs) > 0 {
		return nil, apierrors.NewInvalid(f.r.GVK().GroupKind(), svc.Name, errs)
	}
	return f.r.BeforeCreate(context.Background(), svc, dryRun)
}

// update runs an update of old to svc (status kept, as the apiserver
// keeps it) through the hooks.
func (f *serviceFixture) update(svc, old *corev1.Service) (func(), error) {
	f.r.Default(svc)
	svc.Status = old.Status
	f.r.PrepareForUpdate(svc, old)
	if errs := f.r.ValidateUpdate(svc, old); len(errs) > 0 {
		return nil, apierrors.NewInvalid(f.r.GVK().GroupKind(), svc.Name, errs)
	}
	return f.r.BeforeUpdate(context.Background(), svc, old, false)
}

func (f *serviceFixture) mustCreate(t *testing.T, svc *corev1.Service) *corev1.Service {
	t.Helper()
	if _, err := f.create(svc, false); err != nil {
		t.Fatalf("create %s: %v", svc.Name, err)
	}
	return svc
}

func (f *serviceFixture) expectHeld(t *testing.T, ips []string, ports []int) {
	t.Helper()
	if got := f.ips.held(); !slices.Equal(got, ips) {
		t.Errorf("held IPs = %v, want %v", got, ips)
	}
	if got := f.ports.held(); !slices.Equal(got, ports) {
		t.Errorf("held ports = %v, want %v", got, ports)
	}
}

func testService(name string, typ corev1.ServiceType, ports ...int32) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("u-" + name), ResourceVersion: "7"},
		Spec:       corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}},
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", p), Port: p})
	}
	return svc
}

func expectInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v, want 422 Invalid", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err.Error(), want)
	}
}

// Golden files: testdata/service-<case>.in.yaml goes through the create
// hooks (with the fake allocators) and must come out as .out.yaml.
// SKIFF_UPDATE_GOLDEN=1 (or -update, where a test file defines it)
// rewrites the outputs.
func TestServiceGolden(t *testing.T) {
	update := os.Getenv("SKIFF_UPDATE_GOLDEN") != ""
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		update = true
	}
	ins, err := filepath.Glob(filepath.Join("testdata", "service-*.in.yaml"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			svc := &corev1.Service{}
			if err := yaml.UnmarshalStrict(data, svc); err != nil {
				t.Fatal(err)
			}
			f := newServiceFixture(t)
			f.mustCreate(t, svc)
			got, err := yaml.Marshal(svc)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join("testdata", name+".out.yaml")
			if update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (SKIFF_UPDATE_GOLDEN=1 creates it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("created service differs from %s\n--- got\n%s--- want\n%s", out, got, want)
			}
		})
	}
}

func TestServiceDescriptor(t *testing.T) {
	r := Services(nil, nil)
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("Service") || !r.Namespaced || !r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"svc"}) || !reflect.DeepEqual(r.Categories, []string{"all"}) {
		t.Errorf("descriptor = %+v", r)
	}
	svc := testService("web", corev1.ServiceTypeClusterIP, 80)
	svc.Spec.ClusterIP = "10.43.0.9"
	if got := r.Fields(svc); !reflect.DeepEqual(got, fields.Set{"spec.clusterIP": "10.43.0.9", "spec.type": "ClusterIP"}) {
		t.Errorf("fields = %v", got)
	}
}

func TestServiceDefaults(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{
		SessionAffinity: corev1.ServiceAffinityClientIP,
		Ports: []corev1.ServicePort{
			{Port: 80},
			{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
		},
	}}
	Services(nil, nil).Default(svc)
	sp := svc.Spec
	if sp.Type != corev1.ServiceTypeClusterIP || *sp.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 ||
		sp.Ports[0].Protocol != corev1.ProtocolTCP || sp.Ports[0].TargetPort != intstr.FromInt32(80) ||
		sp.Ports[1].TargetPort != intstr.FromString("dns") || *sp.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster ||
		sp.ExternalTrafficPolicy != "" || sp.AllocateLoadBalancerNodePorts != nil {
		t.Errorf("defaulted spec = %+v", sp)
	}

	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}, {Hostname: "lb.example"}}}}}
	Services(nil, nil).Default(lb)
	if lb.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || !*lb.Spec.AllocateLoadBalancerNodePorts ||
		*lb.Status.LoadBalancer.Ingress[0].IPMode != corev1.LoadBalancerIPModeVIP || lb.Status.LoadBalancer.Ingress[1].IPMode != nil {
		t.Errorf("defaulted load balancer = %+v", lb)
	}

	ext := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example"}}
	Services(nil, nil).Default(ext)
	if ext.Spec.InternalTrafficPolicy != nil {
		t.Errorf("ExternalName got internalTrafficPolicy")
	}
}

func TestValidateService(t *testing.T) {
	local := corev1.ServiceExternalTrafficPolicyLocal
	cases := []struct {
		name   string
		typ    corev1.ServiceType
		mutate func(svc *corev1.Service)
		want   []string
	}{
		{"valid", "", func(*corev1.Service) {}, nil},
		{"name not a DNS-1035 label", "", func(s *corev1.Service) { s.Name = "1web" }, []string{"FieldValueInvalid metadata.name"}},
		{"no ports", "", func(s *corev1.Service) { s.Spec.Ports = nil }, []string{"FieldValueRequired spec.ports"}},
		{"headless needs no ports", "", func(s *corev1.Service) { s.Spec.Ports, s.Spec.ClusterIP = nil, "None" }, nil},
		{"unknown type", "Internal", func(*corev1.Service) {}, []string{"FieldValueNotSupported spec.type"}},
		{"port out of range", "", func(s *corev1.Service) { s.Spec.Ports[0].Port = 70000 },
			[]string{"FieldValueInvalid spec.ports[0].port", "FieldValueInvalid spec.ports[0].targetPort"}},
		{"port zero", "", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0; s.Spec.Ports[0].TargetPort = intstr.FromInt32(80) },
			[]string{"FieldValueInvalid spec.ports[0].port"}},
		{"unnamed among several", "", func(s *corev1.Service) { s.Spec.Ports[1].Name = "" }, []string{"FieldValueRequired spec.ports[1].name"}},
		{"duplicate name", "", func(s *corev1.Service) { s.Spec.Ports[1].Name = s.Spec.Ports[0].Name }, []string{"FieldValueDuplicate spec.ports[1].name"}},
		{"bad name", "", func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }, []string{"FieldValueInvalid spec.ports[0].name"}},
		{"duplicate port and protocol", "", func(s *corev1.Service) { s.Spec.Ports[1].Port = 80; s.Spec.Ports[1].TargetPort = intstr.FromInt32(80) },
			[]string{"FieldValueDuplicate spec.ports[1]"}},
		{"same port other protocol", "", func(s *corev1.Service) { s.Spec.Ports[1].Port, s.Spec.Ports[1].Protocol = 80, corev1.ProtocolUDP }, nil},
		{"protocol", "", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }, []string{"FieldValueNotSupported spec.ports[0].protocol"}},
		{"target port name", "", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("no_such") },
			[]string{"FieldValueInvalid spec.ports[0].targetPort"}},
		{"selector", "", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, []string{"FieldValueInvalid spec.selector"}},
		{"nodePort on ClusterIP", "", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, []string{"FieldValueForbidden spec.ports[0].nodePort"}},
		{"nodePort on NodePort", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, nil},
		{"duplicate nodePort", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort = 30080, 30080 },
			[]string{"FieldValueDuplicate spec.ports[1].nodePort"}},
		{"ExternalName without name", corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ExternalName = "" },
			[]string{"FieldValueRequired spec.externalName"}},
		{"ExternalName with bad name", corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ExternalName = "no_pe" },
			[]string{"FieldValueInvalid spec.externalName"}},
		{"ExternalName with clusterIP", corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.5" },
			[]string{"FieldValueForbidden spec.clusterIPs"}},
		{"headless NodePort", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.ClusterIP = "None" },
			[]string{"FieldValueInvalid spec.clusterIPs[0]"}},
		{"bad clusterIP", "", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.500" }, []string{"FieldValueInvalid spec.clusterIPs[0]"}},
		{"clusterIPs disagree", "", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.5", []string{"10.43.0.6"} },
			[]string{"FieldValueInvalid spec.clusterIPs"}},
		{"ip family", "", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{"IPv5"} }, []string{"FieldValueNotSupported spec.ipFamilies[0]"}},
		{"external IP", "", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"bad"} },
			[]string{"FieldValueInvalid spec.externalIPs[0]"}},
		{"externalTrafficPolicy on ClusterIP", "", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = local },
			[]string{"FieldValueInvalid spec.externalTrafficPolicy"}},
		{"healthCheckNodePort without Local", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 30100 },
			[]string{"FieldValueInvalid spec.healthCheckNodePort"}},
		{"healthCheckNodePort with Local", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Spec.HealthCheckNodePort, s.Spec.ExternalTrafficPolicy = 30100, local
		}, nil},
		{"allocateLoadBalancerNodePorts on NodePort", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = new(bool)
		}, []string{"FieldValueForbidden spec.allocateLoadBalancerNodePorts"}},
		{"source ranges", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8", "x"} },
			[]string{"FieldValueInvalid spec.loadBalancerSourceRanges[1]"}},
		{"affinity timeout", "", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			timeout := int32(86401)
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		}, []string{"FieldValueInvalid spec.sessionAffinityConfig.clientIP.timeoutSeconds"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := testService("web", tc.typ, 80, 443)
			if tc.typ == corev1.ServiceTypeExternalName {
				svc.Spec.ExternalName = "db.example.com"
			}
			tc.mutate(svc)
			r := Services(nil, nil)
			r.Default(svc)
			r.PrepareForCreate(svc)
			expectFieldErrors(t, r.Validate(svc), tc.want...)
		})
	}
}

func TestServiceAllocateClusterIP(t *testing.T) {
	f := newServiceFixture(t)
	a := f.mustCreate(t, testService("a", "", 80))
	if a.Spec.ClusterIP != "10.43.0.1" || !reflect.DeepEqual(a.Spec.ClusterIPs, []string{"10.43.0.1"}) {
		t.Errorf("clusterIP = %q %v", a.Spec.ClusterIP, a.Spec.ClusterIPs)
	}

	b := testService("b", "", 80)
	b.Spec.ClusterIP = "10.43.0.5"
	f.mustCreate(t, b)
	f.expectHeld(t, []string{"10.43.0.1", "10.43.0.5"}, nil)

	taken := testService("c", "", 80)
	taken.Spec.ClusterIP = "10.43.0.5"
	_, err := f.create(taken, false)
	expectInvalid(t, err, `spec.clusterIPs: Invalid value: "10.43.0.5": failed to allocate IP 10.43.0.5: provided IP is already allocated`)

	outside := testService("d", "", 80)
	outside.Spec.ClusterIP = "10.44.0.5"
	_, err = f.create(outside, false)
	expectInvalid(t, err, "failed to allocate IP 10.44.0.5: the provided IP (10.44.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16")

	// The undo of a write that failed gives the address back.
	e := testService("e", "", 80)
	undo, err := f.create(e, false)
	if err != nil {
		t.Fatal(err)
	}
	undo()
	f.expectHeld(t, []string{"10.43.0.1", "10.43.0.5"}, nil)

	f.r.AfterDelete(context.Background(), a)
	f.expectHeld(t, []string{"10.43.0.5"}, nil)
}

func TestServiceClusterIPFamilies(t *testing.T) {
	f := newServiceFixture(t)
	dual := corev1.IPFamilyPolicyRequireDualStack
	svc := testService("web", "", 80)
	svc.Spec.IPFamilyPolicy = &dual
	_, err := f.create(svc, false)
	expectInvalid(t, err, "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services")

	v6 := testService("web6", "", 80)
	v6.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	_, err = f.create(v6, false)
	expectInvalid(t, err, "spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster")
	f.expectHeld(t, nil, nil)
}

func TestServiceDryRun(t *testing.T) {
	f := newServiceFixture(t)
	svc := testService("web", corev1.ServiceTypeNodePort, 80)
	undo, err := f.create(svc, true)
	if err != nil {
		t.Fatal(err)
	}
	undo()
	if svc.Spec.ClusterIP != "" || svc.Spec.Ports[0].NodePort != 0 {
		t.Errorf("dry run assigned %q / %d", svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)
	}
	f.expectHeld(t, nil, nil)

	outside := testService("web", "", 80)
	outside.Spec.ClusterIP = "192.168.0.1"
	_, err = f.create(outside, true)
	expectInvalid(t, err, "is not in the valid range")
	port := testService("web", corev1.ServiceTypeNodePort, 80)
	port.Spec.Ports[0].NodePort = 8080
	_, err = f.create(port, true)
	expectInvalid(t, err, "spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767")
	f.expectHeld(t, nil, nil)
}

func TestServiceAllocateNodePorts(t *testing.T) {
	f := newServiceFixture(t)
	a := testService("a", corev1.ServiceTypeNodePort, 80, 443)
	a.Spec.Ports[0].NodePort = 30080
	f.mustCreate(t, a)
	if a.Spec.Ports[0].NodePort != 30080 || a.Spec.Ports[1].NodePort != 30000 {
		t.Errorf("node ports = %d, %d", a.Spec.Ports[0].NodePort, a.Spec.Ports[1].NodePort)
	}

	// The second port is taken: nothing of this Service stays allocated.
	b := testService("b", corev1.ServiceTypeNodePort, 81, 82)
	b.Spec.Ports[1].NodePort = 30080
	_, err := f.create(b, false)
	expectInvalid(t, err, "spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated")
	f.expectHeld(t, []string{"10.43.0.1"}, []int{30000, 30080})

	lb := testService("lb", corev1.ServiceTypeLoadBalancer, 443)
	lb.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	f.mustCreate(t, lb)
	if lb.Spec.Ports[0].NodePort != 30001 || lb.Spec.HealthCheckNodePort != 30002 {
		t.Errorf("load balancer ports = %d, health %d", lb.Spec.Ports[0].NodePort, lb.Spec.HealthCheckNodePort)
	}

	noAlloc := testService("internal-lb", corev1.ServiceTypeLoadBalancer, 443)
	noAlloc.Spec.AllocateLoadBalancerNodePorts = new(bool)
	f.mustCreate(t, noAlloc)
	if noAlloc.Spec.Ports[0].NodePort != 0 {
		t.Errorf("allocateLoadBalancerNodePorts=false got node port %d", noAlloc.Spec.Ports[0].NodePort)
	}

	f.r.AfterDelete(context.Background(), lb)
	f.r.AfterDelete(context.Background(), a)
	f.expectHeld(t, []string{"10.43.0.3"}, nil)
}

func TestServiceAllocationFull(t *testing.T) {
	f := newServiceFixture(t)
	f.ports = newFakePorts(30000, 1)
	f.r = Services(f.ips, f.ports)
	_, err := f.create(testService("a", corev1.ServiceTypeNodePort, 80, 81), false)
	if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "failed to allocate a nodePort: range is full") {
		t.Fatalf("err = %v, want 500 range is full", err)
	}
	f.expectHeld(t, nil, nil)
}

func TestServiceUpdateTypeChanges(t *testing.T) {
	f := newServiceFixture(t)
	old := f.mustCreate(t, testService("web", "", 80))

	// ClusterIP -> NodePort: node ports are allocated, the IP stays. A
	// client that omits clusterIP (kubectl apply) keeps it.
	np := testService("web", corev1.ServiceTypeNodePort, 80)
	if _, err := f.update(np, old); err != nil {
		t.Fatal(err)
	}
	if np.Spec.ClusterIP != old.Spec.ClusterIP || np.Spec.Ports[0].NodePort != 30000 ||
		np.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
		t.Errorf("NodePort service = %+v", np.Spec)
	}
	f.expectHeld(t, []string{"10.43.0.1"}, []int{30000})

	// A client sending nodePort 0 for the same port keeps its node port;
	// a new port gets one.
	more := np.DeepCopy()
	more.Spec.Ports[0].NodePort = 0
	more.Spec.Ports = append(more.Spec.Ports, corev1.ServicePort{Name: "p443", Port: 443})
	if _, err := f.update(more, np); err != nil {
		t.Fatal(err)
	}
	if more.Spec.Ports[0].NodePort != 30000 || more.Spec.Ports[1].NodePort != 30001 {
		t.Errorf("ports = %+v", more.Spec.Ports)
	}
	f.expectHeld(t, []string{"10.43.0.1"}, []int{30000, 30001})

	// NodePort -> ClusterIP (the whole object sent back, as kubectl edit
	// does): node ports and the external policy go, the ports are freed.
	back := more.DeepCopy()
	back.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := f.update(back, more); err != nil {
		t.Fatal(err)
	}
	if back.Spec.Ports[0].NodePort != 0 || back.Spec.Ports[1].NodePort != 0 || back.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("ClusterIP service = %+v", back.Spec)
	}
	f.expectHeld(t, []string{"10.43.0.1"}, nil)

	// ClusterIP -> ExternalName frees the address; back again allocates one.
	ext := back.DeepCopy()
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
	undo, err := f.update(ext, back)
	if err != nil {
		t.Fatal(err)
	}
	if ext.Spec.ClusterIP != "" || ext.Spec.ClusterIPs != nil || ext.Spec.IPFamilies != nil || ext.Spec.IPFamilyPolicy != nil {
		t.Errorf("ExternalName service = %+v", ext.Spec)
	}
	f.expectHeld(t, nil, nil)
	undo() // the write failed: the address is held again
	f.expectHeld(t, []string{"10.43.0.1"}, nil)
	if _, err := f.update(ext, back); err != nil {
		t.Fatal(err)
	}
	again := ext.DeepCopy()
	again.Spec.Type, again.Spec.ExternalName = corev1.ServiceTypeClusterIP, ""
	if _, err := f.update(again, ext); err != nil {
		t.Fatal(err)
	}
	if again.Spec.ClusterIP != "10.43.0.1" || *again.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack {
		t.Errorf("ClusterIP again = %+v", again.Spec)
	}
	f.expectHeld(t, []string{"10.43.0.1"}, nil)
}

func TestServiceUpdateClusterIPImmutable(t *testing.T) {
	f := newServiceFixture(t)
	old := f.mustCreate(t, testService("web", "", 80))
	svc := old.DeepCopy()
	svc.Spec.ClusterIP = "10.43.0.99"
	_, err := f.update(svc, old)
	expectInvalid(t, err, "spec.clusterIPs[0]: Invalid value: \"10.43.0.99\": may not change once set")

	// Changing the requested node port allocates the new one and frees
	// the old.
	np := f.mustCreate(t, testService("np", corev1.ServiceTypeNodePort, 80))
	moved := np.DeepCopy()
	moved.Spec.Ports[0].NodePort = 31000
	if _, err := f.update(moved, np); err != nil {
		t.Fatal(err)
	}
	f.expectHeld(t, []string{"10.43.0.1", "10.43.0.2"}, []int{31000})
}

func TestServiceStatusUpdate(t *testing.T) {
	f := newServiceFixture(t)
	old := f.mustCreate(t, testService("lb", corev1.ServiceTypeLoadBalancer, 443))
	svc := old.DeepCopy()
	proxy := corev1.LoadBalancerIPModeProxy
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.10", IPMode: &proxy}, {Hostname: "lb.example.com"}}
	expectFieldErrors(t, f.r.ValidateStatusUpdate(svc, old))

	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "x"}, {Hostname: "192.0.2.1"}, {Hostname: "h", IPMode: &proxy}}
	expectFieldErrors(t, f.r.ValidateStatusUpdate(svc, old),
		"FieldValueInvalid status.loadBalancer.ingress[0].ip", "FieldValueInvalid status.loadBalancer.ingress[1].hostname",
		"FieldValueForbidden status.loadBalancer.ingress[2].ipMode")

	cip := f.mustCreate(t, testService("web", "", 80))
	withLB := cip.DeepCopy()
	withLB.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}}
	expectFieldErrors(t, f.r.ValidateStatusUpdate(withLB, cip), "FieldValueForbidden status.loadBalancer.ingress")
}
