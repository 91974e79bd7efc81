package resources

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testEndpointSlice() *discoveryv1.EndpointSlice {
	name, port, node, ready := "http", int32(8080), "node-1", true
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.42.1.5"},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			NodeName:   &node,
		}},
		Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
	}
}

func TestEndpointSliceDescriptorAndDefaults(t *testing.T) {
	r := EndpointSlices()
	if r.GVK() != discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice") || r.Resource != "endpointslices" || !r.Namespaced {
		t.Errorf("descriptor = %+v", r)
	}
	s := testEndpointSlice()
	s.Ports = append(s.Ports, discoveryv1.EndpointPort{})
	r.Default(s)
	for i, p := range s.Ports {
		if p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP || p.Name == nil {
			t.Errorf("port %d not defaulted: %+v", i, p)
		}
	}
	if *s.Ports[1].Name != "" {
		t.Errorf("default port name = %q", *s.Ports[1].Name)
	}
}

func TestValidateEndpointSlice(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("10.42.%d.%d", i/250, i%250+1)
		}
		return out
	}
	cases := []struct {
		name   string
		mutate func(s *discoveryv1.EndpointSlice)
		want   []string
	}{
		{"valid", func(*discoveryv1.EndpointSlice) {}, nil},
		{"no service label is fine", func(s *discoveryv1.EndpointSlice) { s.Labels = nil }, nil},
		{"no address type", func(s *discoveryv1.EndpointSlice) { s.AddressType = "" }, []string{"FieldValueRequired addressType"}},
		{"unknown address type", func(s *discoveryv1.EndpointSlice) { s.AddressType = "IP" }, []string{"FieldValueNotSupported addressType"}},
		{"IPv6 address in IPv4 slice", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"fd00::1"} },
			[]string{"FieldValueInvalid endpoints[0].addresses[0]"}},
		{"IPv6 slice", func(s *discoveryv1.EndpointSlice) {
			s.AddressType = discoveryv1.AddressTypeIPv6
			s.Endpoints[0].Addresses = []string{"fd00::1"}
		}, nil},
		{"FQDN slice", func(s *discoveryv1.EndpointSlice) {
			s.AddressType = discoveryv1.AddressTypeFQDN
			s.Endpoints[0].Addresses = []string{"db.example.com"}
		}, nil},
		{"bad FQDN", func(s *discoveryv1.EndpointSlice) {
			s.AddressType = discoveryv1.AddressTypeFQDN
			s.Endpoints[0].Addresses = []string{"db"}
		}, []string{"FieldValueInvalid endpoints[0].addresses[0]"}},
		{"no addresses", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = nil }, []string{"FieldValueRequired endpoints[0].addresses"}},
		{"100 addresses", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = many(100) }, nil},
		{"101 addresses", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = many(101) }, []string{"FieldValueTooMany endpoints[0].addresses"}},
		{"1001 endpoints", func(s *discoveryv1.EndpointSlice) {
			for _, a := range many(1000) {
				s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}})
			}
		}, []string{"FieldValueTooMany endpoints"}},
		{"hostname", func(s *discoveryv1.EndpointSlice) { h := "Web"; s.Endpoints[0].Hostname = &h }, []string{"FieldValueInvalid endpoints[0].hostname"}},
		{"duplicate port name", func(s *discoveryv1.EndpointSlice) { s.Ports = append(s.Ports, s.Ports[0]) }, []string{"FieldValueDuplicate ports[1].name"}},
		{"port number", func(s *discoveryv1.EndpointSlice) { p := int32(0); s.Ports[0].Port = &p }, []string{"FieldValueInvalid ports[0].port"}},
		{"protocol", func(s *discoveryv1.EndpointSlice) { p := corev1.Protocol("tcp"); s.Ports[0].Protocol = &p },
			[]string{"FieldValueNotSupported ports[0].protocol"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testEndpointSlice()
			tc.mutate(s)
			r := EndpointSlices()
			r.Default(s)
			expectFieldErrors(t, r.Validate(s), tc.want...)
		})
	}
}

func TestEndpointSliceAddressTypeImmutable(t *testing.T) {
	r := EndpointSlices()
	old := testEndpointSlice()
	old.ResourceVersion = "9"
	r.Default(old)
	s := old.DeepCopy()
	s.AddressType = discoveryv1.AddressTypeIPv6
	s.Endpoints[0].Addresses = []string{"fd00::1"}
	expectFieldErrors(t, r.ValidateUpdate(s, old), "FieldValueInvalid addressType")
}
