package resources

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Endpoints is core/v1 endpoints, kept for older clients; the endpoints
// controller mirrors EndpointSlices into them.
func Endpoints() *Resource {
	return &Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Resource:     "endpoints",
		Singular:     "endpoints",
		Kind:         "Endpoints",
		Namespaced:   true,
		ShortNames:   []string{"ep"},
		New:          func() runtime.Object { return &corev1.Endpoints{} },
		NewList:      func() runtime.Object { return &corev1.EndpointsList{} },
		Default: func(obj runtime.Object) {
			ep := obj.(*corev1.Endpoints)
			for i := range ep.Subsets {
				for j := range ep.Subsets[i].Ports {
					if p := &ep.Subsets[i].Ports[j]; p.Protocol == "" {
						p.Protocol = corev1.ProtocolTCP
					}
				}
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			ep := obj.(*corev1.Endpoints)
			return append(ValidateMeta(ep, true, NameIsDNSSubdomain), validateEndpointSubsets(ep.Subsets)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ep := obj.(*corev1.Endpoints)
			return append(ValidateMetaUpdate(ep, old), validateEndpointSubsets(ep.Subsets)...)
		},
		Table: &Table{Columns: printers.EndpointsColumns, Row: printers.EndpointsRow},
	}
}

func validateEndpointSubsets(subsets []corev1.EndpointSubset) field.ErrorList {
	var errs field.ErrorList
	for i, ss := range subsets {
		p := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], p.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], p.Child("notReadyAddresses").Index(j))...)
		}
		for j, port := range ss.Ports {
			pp := p.Child("ports").Index(j)
			switch {
			case port.Name == "" && len(ss.Ports) > 1:
				errs = append(errs, field.Required(pp.Child("name"), ""))
			case port.Name != "":
				for _, msg := range validation.IsDNS1123Label(port.Name) {
					errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
				}
			}
			for _, msg := range validation.IsValidPortNum(int(port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
			}
			errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
			errs = append(errs, validateAppProtocol(port.AppProtocol, pp.Child("appProtocol"))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIPForLegacyField(p.Child("ip"), a.IP, false, nil)
	if len(errs) == 0 {
		errs = append(errs, validateEndpointIPUse(a.IP, p.Child("ip"))...)
	}
	if a.Hostname != "" {
		for _, msg := range validation.IsDNS1123Label(a.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), a.Hostname, msg))
		}
	}
	if a.NodeName != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*a.NodeName) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), *a.NodeName, msg))
		}
	}
	return errs
}

// validateEndpointIPUse refuses addresses no proxy can send traffic to.
func validateEndpointIPUse(ip string, p *field.Path) field.ErrorList {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil // legacy forms (leading zeros) were accepted above
	}
	addr = addr.Unmap()
	var msg string
	switch {
	case addr.IsUnspecified():
		msg = "may not be unspecified (0.0.0.0)"
	case addr.IsLoopback():
		msg = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
	case addr.IsLinkLocalUnicast():
		msg = "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
	case addr.IsLinkLocalMulticast():
		msg = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
	default:
		return nil
	}
	return field.ErrorList{field.Invalid(p, ip, msg)}
}
