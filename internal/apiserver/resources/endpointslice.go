package resources

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Limits of one EndpointSlice, as upstream's.
const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 20000
)

var sliceAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}

// EndpointSlices is discovery.k8s.io/v1 endpointslices. The label
// kubernetes.io/service-name ties a slice to its Service; it is optional
// (slices managed by others may name no Service).
func EndpointSlices() *Resource {
	return &Resource{
		GroupVersion: discoveryv1.SchemeGroupVersion,
		Resource:     "endpointslices",
		Singular:     "endpointslice",
		Kind:         "EndpointSlice",
		Namespaced:   true,
		New:          func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList:      func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Default: func(obj runtime.Object) {
			for i := range obj.(*discoveryv1.EndpointSlice).Ports {
				p := &obj.(*discoveryv1.EndpointSlice).Ports[i]
				if p.Name == nil {
					p.Name = new(string)
				}
				if p.Protocol == nil {
					tcp := corev1.ProtocolTCP
					p.Protocol = &tcp
				}
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			s := obj.(*discoveryv1.EndpointSlice)
			return append(ValidateMeta(s, true, NameIsDNSSubdomain), validateEndpointSlice(s)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			errs := append(ValidateMetaUpdate(s, o), validateEndpointSlice(s)...)
			return append(errs, apimachineryvalidation.ValidateImmutableField(s.AddressType, o.AddressType, field.NewPath("addressType"))...)
		},
		Table: &Table{Columns: printers.EndpointSliceColumns, Row: printers.EndpointSliceRow},
	}
}

func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	switch tp := field.NewPath("addressType"); {
	case s.AddressType == "":
		errs = append(errs, field.Required(tp, ""))
	case !sets.New(sliceAddressTypes...).Has(s.AddressType):
		errs = append(errs, field.NotSupported(tp, s.AddressType, sliceAddressTypes))
	}
	ep := field.NewPath("endpoints")
	if len(s.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(s.Endpoints), maxSliceEndpoints))
	}
	for i := range s.Endpoints {
		errs = append(errs, validateSliceEndpoint(&s.Endpoints[i], s.AddressType, ep.Index(i))...)
	}
	pp := field.NewPath("ports")
	if len(s.Ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(pp, len(s.Ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range s.Ports {
		p := pp.Index(i)
		if port.Name != nil && *port.Name != "" {
			for _, msg := range validation.IsDNS1123Label(*port.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), *port.Name, msg))
			}
		}
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else {
			errs = append(errs, validateProtocol(*port.Protocol, p.Child("protocol"))...)
		}
		if port.Port != nil {
			for _, msg := range validation.IsValidPortNum(int(*port.Port)) {
				errs = append(errs, field.Invalid(p.Child("port"), *port.Port, msg))
			}
		}
		errs = append(errs, validateAppProtocol(port.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

func validateSliceEndpoint(e *discoveryv1.Endpoint, t discoveryv1.AddressType, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ap := p.Child("addresses")
	switch n := len(e.Addresses); {
	case n == 0:
		errs = append(errs, field.Required(ap, "must contain at least 1 address"))
	case n > maxSliceAddresses:
		errs = append(errs, field.TooMany(ap, n, maxSliceAddresses))
	}
	for i, a := range e.Addresses {
		errs = append(errs, validateSliceAddress(a, t, ap.Index(i))...)
	}
	if e.Hostname != nil {
		for _, msg := range validation.IsDNS1123Label(*e.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), *e.Hostname, msg))
		}
	}
	if e.NodeName != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*e.NodeName) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), *e.NodeName, msg))
		}
	}
	if e.Zone != nil {
		for _, msg := range validation.IsValidLabelValue(*e.Zone) {
			errs = append(errs, field.Invalid(p.Child("zone"), *e.Zone, msg))
		}
	}
	return append(errs, metav1validation.ValidateLabels(e.DeprecatedTopology, p.Child("deprecatedTopology"))...)
}

// validateSliceAddress checks one address against the slice's type.
func validateSliceAddress(a string, t discoveryv1.AddressType, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIPForLegacyField(p, a, false, nil); len(errs) > 0 {
			return errs
		}
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return nil // a legacy form with leading zeros: IPv4
		}
		if is4 := addr.Unmap().Is4(); is4 != (t == discoveryv1.AddressTypeIPv4) {
			return field.ErrorList{field.Invalid(p, a, "must be an "+string(t)+" address")}
		}
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, a)
	}
	return nil
}
