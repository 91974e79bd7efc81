package resources

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testEndpoints() *corev1.Endpoints {
	node := "node-1"
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.42.1.5", NodeName: &node, Hostname: "web-0"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.42.1.6"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP}},
		}},
	}
}

func TestEndpointsDescriptor(t *testing.T) {
	r := Endpoints()
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("Endpoints") || !r.Namespaced || r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"ep"}) || r.Singular != "endpoints" {
		t.Errorf("descriptor = %+v", r)
	}
	ep := testEndpoints()
	r.Default(ep)
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("protocol not defaulted: %+v", ep.Subsets[0].Ports[0])
	}
}

func TestValidateEndpoints(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(ss *corev1.EndpointSubset)
		want   []string
	}{
		{"valid", func(*corev1.EndpointSubset) {}, nil},
		{"no addresses", func(ss *corev1.EndpointSubset) { ss.Addresses, ss.NotReadyAddresses = nil, nil },
			[]string{"FieldValueRequired subsets[0]"}},
		{"not an IP", func(ss *corev1.EndpointSubset) { ss.Addresses[0].IP = "web-0" }, []string{"FieldValueInvalid subsets[0].addresses[0].ip"}},
		{"loopback", func(ss *corev1.EndpointSubset) { ss.NotReadyAddresses[0].IP = "127.0.0.1" },
			[]string{"FieldValueInvalid subsets[0].notReadyAddresses[0].ip"}},
		{"link-local", func(ss *corev1.EndpointSubset) { ss.Addresses[0].IP = "169.254.1.1" }, []string{"FieldValueInvalid subsets[0].addresses[0].ip"}},
		{"IPv6", func(ss *corev1.EndpointSubset) { ss.Addresses[0].IP = "fd00::5" }, nil},
		{"hostname", func(ss *corev1.EndpointSubset) { ss.Addresses[0].Hostname = "web.0" }, []string{"FieldValueInvalid subsets[0].addresses[0].hostname"}},
		{"port", func(ss *corev1.EndpointSubset) { ss.Ports[0].Port = 0 }, []string{"FieldValueInvalid subsets[0].ports[0].port"}},
		{"unnamed among several", func(ss *corev1.EndpointSubset) { ss.Ports[1].Name = "" }, []string{"FieldValueRequired subsets[0].ports[1].name"}},
		{"one unnamed port", func(ss *corev1.EndpointSubset) { ss.Ports = ss.Ports[:1]; ss.Ports[0].Name = "" }, nil},
		{"protocol", func(ss *corev1.EndpointSubset) { ss.Ports[1].Protocol = "ICMP" }, []string{"FieldValueNotSupported subsets[0].ports[1].protocol"}},
		{"headless: no ports", func(ss *corev1.EndpointSubset) { ss.Ports = nil }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep := testEndpoints()
			tc.mutate(&ep.Subsets[0])
			r := Endpoints()
			r.Default(ep)
			expectFieldErrors(t, r.Validate(ep), tc.want...)
			old := testEndpoints()
			old.ResourceVersion, ep.ResourceVersion = "3", "3"
			expectFieldErrors(t, r.ValidateUpdate(ep, old), tc.want...)
		})
	}
}
