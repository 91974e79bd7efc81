package resources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Services is core/v1 services. ClusterIPs come from ips and node ports
// from ports when a Service is created or changes type, and go back when
// it no longer needs them or is deleted.
func Services(ips IPAllocator, ports PortAllocator) *Resource {
	a := &serviceAllocator{ips: ips, ports: ports}
	v1 := corev1.SchemeGroupVersion
	return &Resource{
		GroupVersion: v1,
		Resource:     "services",
		Singular:     "service",
		Kind:         "Service",
		Namespaced:   true,
		ShortNames:   []string{"svc"},
		Categories:   []string{"all"},
		New:          func() runtime.Object { return &corev1.Service{} },
		NewList:      func() runtime.Object { return &corev1.ServiceList{} },
		HasStatus:    true,
		Subresources: []Subresource{
			{Name: "proxy", Kind: v1.WithKind("ServiceProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}},
		},
		Default: func(obj runtime.Object) { defaultService(obj.(*corev1.Service)) },
		PrepareForCreate: func(obj runtime.Object) {
			svc := obj.(*corev1.Service)
			svc.Status = corev1.ServiceStatus{}
			if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) > 0 {
				svc.Spec.ClusterIP = svc.Spec.ClusterIPs[0]
			}
			if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
				svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
			}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			svc, o := obj.(*corev1.Service), old.(*corev1.Service)
			keepServiceAllocations(svc, o)
			dropServiceTypeFields(svc, o)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			svc := obj.(*corev1.Service)
			return append(ValidateMeta(svc, true, NameIs1035Label), validateServiceSpec(svc)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			svc, o := obj.(*corev1.Service), old.(*corev1.Service)
			errs := append(ValidateMetaUpdate(svc, o), validateServiceSpec(svc)...)
			return append(errs, validateServiceSpecUpdate(&svc.Spec, &o.Spec)...)
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			svc := obj.(*corev1.Service)
			return append(ValidateMetaUpdate(svc, old), validateServiceStatus(svc)...)
		},
		BeforeCreate: func(ctx context.Context, obj runtime.Object, dryRun bool) (func(), error) {
			return a.allocate(ctx, obj.(*corev1.Service), nil, dryRun)
		},
		BeforeUpdate: func(ctx context.Context, obj, old runtime.Object, dryRun bool) (func(), error) {
			return a.allocate(ctx, obj.(*corev1.Service), old.(*corev1.Service), dryRun)
		},
		AfterDelete: func(ctx context.Context, obj runtime.Object) { a.releaseAll(ctx, obj.(*corev1.Service)) },
		Fields: func(obj runtime.Object) fields.Set {
			svc := obj.(*corev1.Service)
			return fields.Set{"spec.clusterIP": svc.Spec.ClusterIP, "spec.type": string(svc.Spec.Type)}
		},
		Table: &Table{Columns: printers.ServiceColumns, Row: printers.ServiceRow},
	}
}

// needsClusterIP: every type but ExternalName has a ClusterIP (or None).
func needsClusterIP(svc *corev1.Service) bool { return svc.Spec.Type != corev1.ServiceTypeExternalName }

// mayHaveNodePorts: the types whose ports may carry node ports.
func mayHaveNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// allocatesNodePorts: the services whose ports get a node port allocated
// when they ask for none.
func allocatesNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func needsHealthCheckNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// externallyAccessible services take external traffic, so an external
// traffic policy applies to them.
func externallyAccessible(svc *corev1.Service) bool {
	return mayHaveNodePorts(svc) || svc.Spec.Type == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0
}

// defaultService applies upstream's Service defaults.
func defaultService(svc *corev1.Service) {
	sp := &svc.Spec
	if sp.Type == "" {
		sp.Type = corev1.ServiceTypeClusterIP
	}
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = corev1.ServiceAffinityNone
	}
	switch sp.SessionAffinity {
	case corev1.ServiceAffinityNone:
		sp.SessionAffinityConfig = nil
	case corev1.ServiceAffinityClientIP:
		if c := sp.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			timeout := corev1.DefaultClientIPServiceAffinitySeconds
			sp.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		}
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if externallyAccessible(svc) && sp.ExternalTrafficPolicy == "" {
		sp.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if sp.InternalTrafficPolicy == nil && needsClusterIP(svc) {
		cluster := corev1.ServiceInternalTrafficPolicyCluster
		sp.InternalTrafficPolicy = &cluster
	}
	if sp.Type == corev1.ServiceTypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		allocate := true
		sp.AllocateLoadBalancerNodePorts = &allocate
	}
	for i := range svc.Status.LoadBalancer.Ingress {
		if ing := &svc.Status.LoadBalancer.Ingress[i]; ing.IP != "" && ing.IPMode == nil {
			vip := corev1.LoadBalancerIPModeVIP
			ing.IPMode = &vip
		}
	}
}

// keepServiceAllocations fills in what an update leaves out but the
// Service already holds (kubectl apply and replace send manifests without
// them): its ClusterIPs and IP families, and the node ports of ports that
// keep their names.
func keepServiceAllocations(svc, old *corev1.Service) {
	sp, op := &svc.Spec, &old.Spec
	if needsClusterIP(svc) && needsClusterIP(old) {
		switch {
		case sp.ClusterIP == "" && len(sp.ClusterIPs) == 0:
			sp.ClusterIP, sp.ClusterIPs = op.ClusterIP, slices.Clone(op.ClusterIPs)
		case len(sp.ClusterIPs) == 0 && sp.ClusterIP == op.ClusterIP:
			sp.ClusterIPs = slices.Clone(op.ClusterIPs)
		case sp.ClusterIP == "":
			sp.ClusterIP = sp.ClusterIPs[0]
		case sp.ClusterIP != op.ClusterIP && slices.Equal(sp.ClusterIPs, op.ClusterIPs):
			// Only the singular field changed: make both say so, for
			// validation to refuse.
			sp.ClusterIPs = []string{sp.ClusterIP}
		}
		if len(sp.IPFamilies) == 0 {
			sp.IPFamilies = slices.Clone(op.IPFamilies)
		}
		if sp.IPFamilyPolicy == nil && op.IPFamilyPolicy != nil {
			policy := *op.IPFamilyPolicy
			sp.IPFamilyPolicy = &policy
		}
	}
	if mayHaveNodePorts(svc) && mayHaveNodePorts(old) {
		used := sets.New[int32]()
		for _, p := range sp.Ports {
			used.Insert(p.NodePort)
		}
		for i := range sp.Ports {
			p := &sp.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			for _, o := range op.Ports {
				if o.Name == p.Name && o.NodePort != 0 && !used.Has(o.NodePort) {
					p.NodePort = o.NodePort
					used.Insert(o.NodePort)
				}
			}
		}
	}
	if needsHealthCheckNodePort(svc) && needsHealthCheckNodePort(old) && sp.HealthCheckNodePort == 0 {
		sp.HealthCheckNodePort = op.HealthCheckNodePort
	}
}

// dropServiceTypeFields clears, when the type changes, the fields the new
// type may not have, if the client left them as they were: what the
// client left is the server's, what it set is validated.
func dropServiceTypeFields(svc, old *corev1.Service) {
	sp, op := &svc.Spec, &old.Spec
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if (sp.ClusterIP == "" || sp.ClusterIP == op.ClusterIP) && (len(sp.ClusterIPs) == 0 || slices.Equal(sp.ClusterIPs, op.ClusterIPs)) {
			sp.ClusterIP, sp.ClusterIPs = "", nil
		}
		if len(sp.IPFamilies) == 0 || slices.Equal(sp.IPFamilies, op.IPFamilies) {
			sp.IPFamilies = nil
		}
		if apiequality.Semantic.DeepEqual(sp.IPFamilyPolicy, op.IPFamilyPolicy) {
			sp.IPFamilyPolicy = nil
		}
		if apiequality.Semantic.DeepEqual(sp.InternalTrafficPolicy, op.InternalTrafficPolicy) {
			sp.InternalTrafficPolicy = nil
		}
	}
	if !mayHaveNodePorts(svc) {
		held := sets.New[int32]()
		for _, p := range op.Ports {
			held.Insert(p.NodePort)
		}
		for i := range sp.Ports {
			if held.Has(sp.Ports[i].NodePort) {
				sp.Ports[i].NodePort = 0
			}
		}
	}
	if !needsHealthCheckNodePort(svc) && sp.HealthCheckNodePort == op.HealthCheckNodePort {
		sp.HealthCheckNodePort = 0
	}
	if sp.Type != corev1.ServiceTypeLoadBalancer {
		if apiequality.Semantic.DeepEqual(sp.AllocateLoadBalancerNodePorts, op.AllocateLoadBalancerNodePorts) {
			sp.AllocateLoadBalancerNodePorts = nil
		}
		if apiequality.Semantic.DeepEqual(sp.LoadBalancerClass, op.LoadBalancerClass) {
			sp.LoadBalancerClass = nil
		}
	}
	if !externallyAccessible(svc) && sp.ExternalTrafficPolicy == op.ExternalTrafficPolicy {
		sp.ExternalTrafficPolicy = ""
	}
}

var serviceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName}

// validateServiceSpec checks a Service's spec on create and update.
func validateServiceSpec(svc *corev1.Service) field.ErrorList {
	sp, p := &svc.Spec, field.NewPath("spec")
	var errs field.ErrorList
	switch {
	case sp.Type == "":
		errs = append(errs, field.Required(p.Child("type"), ""))
	case !slices.Contains(serviceTypes, sp.Type):
		errs = append(errs, field.NotSupported(p.Child("type"), sp.Type, serviceTypes))
	}
	if len(sp.Ports) == 0 && sp.ClusterIP != corev1.ClusterIPNone && sp.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(p.Child("ports"), ""))
	}
	errs = append(errs, validateServicePorts(svc)...)
	errs = append(errs, validateServiceIPs(svc)...)
	errs = append(errs, metav1validation.ValidateLabels(sp.Selector, p.Child("selector"))...)
	errs = append(errs, validateServiceTraffic(svc)...)
	if sp.Type == corev1.ServiceTypeExternalName {
		if sp.ExternalName == "" {
			errs = append(errs, field.Required(p.Child("externalName"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(trimDot(sp.ExternalName)) {
				errs = append(errs, field.Invalid(p.Child("externalName"), sp.ExternalName, msg))
			}
		}
	}
	lbOnly := func(set bool, name string) {
		if set && sp.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(p.Child(name), "may only be used when `type` is 'LoadBalancer'"))
		}
	}
	lbOnly(sp.AllocateLoadBalancerNodePorts != nil, "allocateLoadBalancerNodePorts")
	lbOnly(sp.LoadBalancerClass != nil, "loadBalancerClass")
	lbOnly(len(sp.LoadBalancerSourceRanges) > 0, "loadBalancerSourceRanges")
	if sp.Type == corev1.ServiceTypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		errs = append(errs, field.Required(p.Child("allocateLoadBalancerNodePorts"), ""))
	}
	if sp.LoadBalancerClass != nil {
		for _, msg := range validation.IsQualifiedName(*sp.LoadBalancerClass) {
			errs = append(errs, field.Invalid(p.Child("loadBalancerClass"), *sp.LoadBalancerClass, msg))
		}
	}
	for i, r := range sp.LoadBalancerSourceRanges {
		errs = append(errs, validation.IsValidCIDRForLegacyField(p.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(r), false, nil)...)
	}
	return errs
}

// validateServicePorts checks each port and that names, port/protocol
// pairs and node port/protocol pairs are unique.
func validateServicePorts(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	names, pairs, nodePairs := sets.New[string](), sets.New[string](), sets.New[string]()
	for i, port := range svc.Spec.Ports {
		pp := field.NewPath("spec", "ports").Index(i)
		switch {
		case port.Name == "" && len(svc.Spec.Ports) > 1:
			errs = append(errs, field.Required(pp.Child("name"), ""))
		case port.Name != "":
			for _, msg := range validation.IsDNS1123Label(port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
			}
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		for _, msg := range validation.IsValidPortNum(int(port.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
		}
		errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
		errs = append(errs, validateAppProtocol(port.AppProtocol, pp.Child("appProtocol"))...)
		if port.TargetPort.Type == intstr.String {
			for _, msg := range validation.IsValidPortName(port.TargetPort.StrVal) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), port.TargetPort.StrVal, msg))
			}
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.TargetPort.IntVal)) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), port.TargetPort.IntVal, msg))
			}
		}
		pair := fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		if pairs.Has(pair) {
			errs = append(errs, field.Duplicate(pp, pair))
		}
		pairs.Insert(pair)
		if port.NodePort == 0 {
			continue
		}
		if !mayHaveNodePorts(svc) {
			errs = append(errs, field.Forbidden(pp.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", svc.Spec.Type)))
			continue
		}
		for _, msg := range validation.IsValidPortNum(int(port.NodePort)) {
			errs = append(errs, field.Invalid(pp.Child("nodePort"), port.NodePort, msg))
		}
		nodePair := fmt.Sprintf("%d/%s", port.NodePort, port.Protocol)
		if nodePairs.Has(nodePair) {
			errs = append(errs, field.Duplicate(pp.Child("nodePort"), port.NodePort))
		}
		nodePairs.Insert(nodePair)
	}
	return errs
}

var ipFamilyPolicies = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack}

// validateServiceIPs checks clusterIP(s), IP families and external IPs.
func validateServiceIPs(svc *corev1.Service) field.ErrorList {
	sp, p := &svc.Spec, field.NewPath("spec")
	var errs field.ErrorList
	if sp.Type == corev1.ServiceTypeExternalName {
		if sp.ClusterIP != "" || len(sp.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(p.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(sp.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(p.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if sp.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(p.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
	}
	if sp.ClusterIP == corev1.ClusterIPNone && mayHaveNodePorts(svc) {
		errs = append(errs, field.Invalid(p.Child("clusterIPs").Index(0), sp.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", sp.Type)))
	}
	if len(sp.ClusterIPs) > 0 && sp.ClusterIP != sp.ClusterIPs[0] {
		errs = append(errs, field.Invalid(p.Child("clusterIPs"), sp.ClusterIPs, "first value must match `clusterIP`"))
	}
	for i, ip := range sp.ClusterIPs {
		ipp := p.Child("clusterIPs").Index(i)
		if ip == corev1.ClusterIPNone {
			if i > 0 || len(sp.ClusterIPs) > 1 {
				errs = append(errs, field.Invalid(ipp, ip, "'None' must be the first and only value"))
			}
			continue
		}
		errs = append(errs, validation.IsValidIPForLegacyField(ipp, ip, false, nil)...)
	}
	if sp.ClusterIP != "" && sp.ClusterIP != corev1.ClusterIPNone && len(sp.ClusterIPs) == 0 {
		errs = append(errs, validation.IsValidIPForLegacyField(p.Child("clusterIP"), sp.ClusterIP, false, nil)...)
	}
	if len(sp.ClusterIPs) > 2 {
		errs = append(errs, field.TooMany(p.Child("clusterIPs"), len(sp.ClusterIPs), 2))
	}
	if sp.IPFamilyPolicy != nil && !slices.Contains(ipFamilyPolicies, *sp.IPFamilyPolicy) {
		errs = append(errs, field.NotSupported(p.Child("ipFamilyPolicy"), *sp.IPFamilyPolicy, ipFamilyPolicies))
	}
	families := []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	for i, f := range sp.IPFamilies {
		switch {
		case !slices.Contains(families, f):
			errs = append(errs, field.NotSupported(p.Child("ipFamilies").Index(i), f, families))
		case slices.Index(sp.IPFamilies, f) < i:
			errs = append(errs, field.Duplicate(p.Child("ipFamilies").Index(i), f))
		}
	}
	if len(sp.IPFamilies) > 2 {
		errs = append(errs, field.TooMany(p.Child("ipFamilies"), len(sp.IPFamilies), 2))
	}
	for i, ip := range sp.ExternalIPs {
		errs = append(errs, validation.IsValidIPForLegacyField(p.Child("externalIPs").Index(i), ip, false, nil)...)
	}
	return errs
}

// validateServiceTraffic checks session affinity and the traffic
// policies, which depend on the type.
func validateServiceTraffic(svc *corev1.Service) field.ErrorList {
	sp, p := &svc.Spec, field.NewPath("spec")
	var errs field.ErrorList
	switch sp.SessionAffinity {
	case corev1.ServiceAffinityNone:
		if sp.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(p.Child("sessionAffinityConfig"), "must not be set when session affinity is None"))
		}
	case corev1.ServiceAffinityClientIP:
		if c := sp.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > 86400 {
				errs = append(errs, field.Invalid(p.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t, "must be greater than 0 and less than 86400"))
			}
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("sessionAffinity"), sp.SessionAffinity,
			[]corev1.ServiceAffinity{corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP}))
	}
	etp := []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	switch {
	case !externallyAccessible(svc) && sp.ExternalTrafficPolicy != "":
		errs = append(errs, field.Invalid(p.Child("externalTrafficPolicy"), sp.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case externallyAccessible(svc) && sp.ExternalTrafficPolicy == "":
		errs = append(errs, field.Required(p.Child("externalTrafficPolicy"), ""))
	case externallyAccessible(svc) && !slices.Contains(etp, sp.ExternalTrafficPolicy):
		errs = append(errs, field.NotSupported(p.Child("externalTrafficPolicy"), sp.ExternalTrafficPolicy, etp))
	}
	if hc := sp.HealthCheckNodePort; hc != 0 {
		if !needsHealthCheckNodePort(svc) {
			errs = append(errs, field.Invalid(p.Child("healthCheckNodePort"), hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
		for _, msg := range validation.IsValidPortNum(int(hc)) {
			errs = append(errs, field.Invalid(p.Child("healthCheckNodePort"), hc, msg))
		}
	}
	itp := []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
	switch {
	case sp.InternalTrafficPolicy == nil && needsClusterIP(svc):
		errs = append(errs, field.Required(p.Child("internalTrafficPolicy"), ""))
	case sp.InternalTrafficPolicy != nil && !slices.Contains(itp, *sp.InternalTrafficPolicy):
		errs = append(errs, field.NotSupported(p.Child("internalTrafficPolicy"), *sp.InternalTrafficPolicy, itp))
	}
	if td := sp.TrafficDistribution; td != nil {
		known := []string{corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode}
		if !slices.Contains(known, *td) {
			errs = append(errs, field.NotSupported(p.Child("trafficDistribution"), *td, known))
		}
	}
	return errs
}

// validateServiceSpecUpdate: the ClusterIP and its family stay as long as
// the Service has one (a change to or from ExternalName is the way to
// get another), and so does the load balancer class.
func validateServiceSpecUpdate(sp, op *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	both := sp.Type != corev1.ServiceTypeExternalName && op.Type != corev1.ServiceTypeExternalName
	if both && op.ClusterIP != "" && sp.ClusterIP != op.ClusterIP {
		errs = append(errs, field.Invalid(p.Child("clusterIPs").Index(0), sp.ClusterIP, "may not change once set"))
	}
	if both && len(op.IPFamilies) > 0 && len(sp.IPFamilies) > 0 && sp.IPFamilies[0] != op.IPFamilies[0] {
		errs = append(errs, field.Invalid(p.Child("ipFamilies").Index(0), sp.IPFamilies[0], "may not change once set"))
	}
	if sp.Type == corev1.ServiceTypeLoadBalancer && op.Type == corev1.ServiceTypeLoadBalancer &&
		!apiequality.Semantic.DeepEqual(sp.LoadBalancerClass, op.LoadBalancerClass) {
		errs = append(errs, field.Invalid(p.Child("loadBalancerClass"), sp.LoadBalancerClass, "may not change once set"))
	}
	return errs
}

// validateServiceStatus checks what a load balancer controller reports.
func validateServiceStatus(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("status", "loadBalancer", "ingress")
	ingress := svc.Status.LoadBalancer.Ingress
	if len(ingress) > 0 && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(p, "may only be used when `spec.type` is 'LoadBalancer'"))
	}
	modes := []corev1.LoadBalancerIPMode{corev1.LoadBalancerIPModeVIP, corev1.LoadBalancerIPModeProxy}
	for i, ing := range ingress {
		ip := p.Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(ip.Child("ip"), ing.IP, false, nil)...)
		}
		switch {
		case ing.IPMode != nil && ing.IP == "":
			errs = append(errs, field.Forbidden(ip.Child("ipMode"), "may not be specified when `ip` is not"))
		case ing.IPMode != nil && !slices.Contains(modes, *ing.IPMode):
			errs = append(errs, field.NotSupported(ip.Child("ipMode"), *ing.IPMode, modes))
		}
		if ing.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
				errs = append(errs, field.Invalid(ip.Child("hostname"), ing.Hostname, msg))
			}
			if net.ParseIP(ing.Hostname) != nil {
				errs = append(errs, field.Invalid(ip.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
		for j, port := range ing.Ports {
			pp := ip.Child("ports").Index(j)
			for _, msg := range validation.IsValidPortNum(int(port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
			}
			errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
		}
	}
	return append(errs, metav1validation.ValidateConditions(svc.Status.Conditions, field.NewPath("status", "conditions"))...)
}

// serviceAllocator reserves and releases Services' ClusterIPs and node
// ports.
type serviceAllocator struct {
	ips   IPAllocator
	ports PortAllocator
}

// family is the IP family of the service CIDR (skiff is single-stack).
func (a *serviceAllocator) family() corev1.IPFamily {
	if a.ips != nil && a.ips.CIDR().IP.To4() == nil {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// allocate gives svc (created, or updated from old) the ClusterIP and node
// ports it needs, and on update releases those old held that svc no
// longer uses. Releases happen here, before the write (the Resource has
// no after-update hook): the returned undo releases what this call
// reserved and reserves again what it released, so a failed or retried
// write leaves the allocators as they were — unless another Service
// took a released address or port in between, in which case both name
// it and nothing reports the clash. With dryRun nothing is reserved or
// released, but requested addresses are still range-checked.
func (a *serviceAllocator) allocate(ctx context.Context, svc, old *corev1.Service, dryRun bool) (func(), error) {
	tx := &serviceAllocation{serviceAllocator: a, ctx: context.WithoutCancel(ctx), dryRun: dryRun}
	err := tx.clusterIP(svc, old)
	if err == nil {
		err = tx.nodePorts(svc, old)
	}
	if err == nil && old != nil && !dryRun {
		err = tx.releaseUnused(svc, old)
	}
	if err != nil {
		tx.undo()
		var invalid fieldErrors
		if errors.As(err, &invalid) {
			return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList(invalid))
		}
		return nil, err
	}
	return tx.undo, nil
}

// releaseAll frees everything a deleted Service held. Errors are dropped:
// the allocator repair at start-up frees what is left.
func (a *serviceAllocator) releaseAll(ctx context.Context, svc *corev1.Service) {
	tx := &serviceAllocation{serviceAllocator: a, ctx: ctx}
	// An ExternalName Service without ports holds nothing.
	_ = tx.releaseUnused(&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}}, svc)
}

// serviceAllocation is one allocate call: what it reserved and released.
type serviceAllocation struct {
	*serviceAllocator
	ctx                   context.Context
	dryRun                bool
	reservedIPs, freedIPs []net.IP
	reserved, freed       []int
}

func (tx *serviceAllocation) undo() {
	for _, ip := range tx.reservedIPs {
		_ = tx.ips.Release(tx.ctx, ip)
	}
	for _, p := range tx.reserved {
		_ = tx.ports.Release(tx.ctx, p)
	}
	for _, ip := range tx.freedIPs {
		_ = tx.ips.Allocate(tx.ctx, ip)
	}
	for _, p := range tx.freed {
		_ = tx.ports.Allocate(tx.ctx, p)
	}
	tx.reservedIPs, tx.freedIPs, tx.reserved, tx.freed = nil, nil, nil, nil
}

// clusterIP checks the requested IP families against the cluster's and
// reserves the ClusterIP of a Service that needs one and did not have one
// (on create, or on update from ExternalName).
func (tx *serviceAllocation) clusterIP(svc, old *corev1.Service) error {
	sp := &svc.Spec
	if !needsClusterIP(svc) {
		return nil
	}
	if errs := tx.checkFamilies(svc); len(errs) > 0 {
		return fieldErrors(errs)
	}
	if old != nil && needsClusterIP(old) {
		return nil // unchanged: validation keeps it so
	}
	path := field.NewPath("spec", "clusterIPs")
	switch sp.ClusterIP {
	case corev1.ClusterIPNone:
	case "":
		if tx.dryRun {
			break
		}
		if tx.ips == nil {
			return apierrors.NewInternalError(errors.New("failed to allocate a serviceIP: no service IP range configured"))
		}
		ip, err := tx.ips.AllocateNext(tx.ctx)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %w", err))
		}
		tx.reservedIPs = append(tx.reservedIPs, ip)
		sp.ClusterIP = ip.String()
	default:
		ip := net.ParseIP(sp.ClusterIP)
		fail := func(reason string) error {
			return fieldErrors{field.Invalid(path, sp.ClusterIP, fmt.Sprintf("failed to allocate IP %s: %s", sp.ClusterIP, reason))}
		}
		notInRange := func() error {
			return fail(fmt.Sprintf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", sp.ClusterIP, tx.ips.CIDR()))
		}
		switch {
		case tx.ips == nil:
			return apierrors.NewInternalError(errors.New("failed to allocate a serviceIP: no service IP range configured"))
		case !tx.ips.CIDR().Contains(ip):
			return notInRange()
		case tx.dryRun:
		default:
			err := tx.ips.Allocate(tx.ctx, ip)
			switch {
			case errors.Is(err, ErrAllocated):
				return fail("provided IP is already allocated")
			case errors.Is(err, ErrNotInRange):
				return notInRange()
			case err != nil:
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate IP %s: %w", sp.ClusterIP, err))
			}
			tx.reservedIPs = append(tx.reservedIPs, ip)
		}
	}
	if sp.ClusterIP != "" {
		sp.ClusterIPs = []string{sp.ClusterIP}
	}
	return nil
}

// checkFamilies refuses families this single-stack cluster lacks and
// fills in ipFamilies and ipFamilyPolicy. A headless Service without a
// selector has no addresses of its own, so it may name any family and
// defaults to RequireDualStack, as upstream.
func (tx *serviceAllocation) checkFamilies(svc *corev1.Service) field.ErrorList {
	sp := &svc.Spec
	fam := tx.family()
	if sp.ClusterIP == corev1.ClusterIPNone && len(sp.Selector) == 0 {
		if sp.IPFamilyPolicy == nil {
			policy := corev1.IPFamilyPolicyRequireDualStack
			sp.IPFamilyPolicy = &policy
		}
		if len(sp.IPFamilies) == 0 {
			sp.IPFamilies = []corev1.IPFamily{fam}
		}
		return nil
	}
	var errs field.ErrorList
	p := field.NewPath("spec")
	if sp.IPFamilyPolicy != nil && *sp.IPFamilyPolicy == corev1.IPFamilyPolicyRequireDualStack {
		errs = append(errs, field.Invalid(p.Child("ipFamilyPolicy"), *sp.IPFamilyPolicy, "this cluster is not configured for dual-stack services"))
	}
	for i, f := range sp.IPFamilies {
		if f != fam {
			errs = append(errs, field.Invalid(p.Child("ipFamilies").Index(i), f, "not configured on this cluster"))
		}
	}
	if len(sp.ClusterIPs) > 1 {
		errs = append(errs, field.Invalid(p.Child("clusterIPs").Index(1), sp.ClusterIPs[1], "this cluster is not configured for dual-stack services"))
	}
	if len(sp.IPFamilies) == 0 {
		sp.IPFamilies = []corev1.IPFamily{fam}
	}
	if sp.IPFamilyPolicy == nil {
		policy := corev1.IPFamilyPolicySingleStack
		sp.IPFamilyPolicy = &policy
	}
	return errs
}

// nodePorts reserves the node ports svc asks for or needs, keeping those
// old already held. Ports with the same number but different protocols
// share one node port, as upstream allocates them.
func (tx *serviceAllocation) nodePorts(svc, old *corev1.Service) error {
	sp := &svc.Spec
	held := heldNodePorts(old)
	mine := sets.New[int32]()
	if mayHaveNodePorts(svc) {
		shared := map[int32]int32{}
		for _, p := range sp.Ports {
			if _, ok := shared[p.Port]; !ok && p.NodePort != 0 {
				shared[p.Port] = p.NodePort
			}
		}
		for i := range sp.Ports {
			p := &sp.Ports[i]
			if p.NodePort == 0 && allocatesNodePorts(svc) {
				p.NodePort = shared[p.Port]
			}
			path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
			if err := tx.nodePort(&p.NodePort, path, held, mine, allocatesNodePorts(svc)); err != nil {
				return err
			}
			if p.NodePort != 0 {
				shared[p.Port] = p.NodePort
			}
		}
	}
	if needsHealthCheckNodePort(svc) {
		path := field.NewPath("spec", "healthCheckNodePort")
		if hc := sp.HealthCheckNodePort; hc != 0 && mine.Has(hc) {
			return fieldErrors{field.Invalid(path, hc, "provided port is already allocated")}
		}
		return tx.nodePort(&sp.HealthCheckNodePort, path, held, mine, true)
	}
	return nil
}

// nodePort reserves *port (or, when it is 0 and auto is set, a free port
// into *port) unless the Service already holds it.
func (tx *serviceAllocation) nodePort(port *int32, path *field.Path, held, mine sets.Set[int32], auto bool) error {
	np := *port
	if np != 0 && (held.Has(np) || mine.Has(np)) {
		mine.Insert(np)
		return nil
	}
	if np == 0 && (!auto || tx.dryRun) {
		return nil
	}
	if tx.ports == nil {
		return apierrors.NewInternalError(errors.New("failed to allocate a nodePort: no node port range configured"))
	}
	notInRange := fieldErrors{field.Invalid(path, np, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d",
		tx.ports.Base(), tx.ports.Base()+tx.ports.Size()-1))}
	if np == 0 {
		next, err := tx.ports.AllocateNext(tx.ctx)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
		}
		tx.reserved = append(tx.reserved, next)
		*port = int32(next)
		mine.Insert(*port)
		return nil
	}
	if int(np) < tx.ports.Base() || int(np) >= tx.ports.Base()+tx.ports.Size() {
		return notInRange
	}
	if !tx.dryRun {
		err := tx.ports.Allocate(tx.ctx, int(np))
		switch {
		case errors.Is(err, ErrAllocated):
			return fieldErrors{field.Invalid(path, np, "provided port is already allocated")}
		case errors.Is(err, ErrNotInRange):
			return notInRange
		case err != nil:
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate port %d: %w", np, err))
		}
		tx.reserved = append(tx.reserved, int(np))
	}
	mine.Insert(np)
	return nil
}

// releaseUnused frees the ClusterIPs and node ports old held that svc
// does not.
func (tx *serviceAllocation) releaseUnused(svc, old *corev1.Service) error {
	if tx.ips != nil && needsClusterIP(old) && (!needsClusterIP(svc) || svc.Spec.ClusterIP != old.Spec.ClusterIP) {
		for _, s := range append([]string{old.Spec.ClusterIP}, old.Spec.ClusterIPs...) {
			ip := net.ParseIP(s)
			if ip == nil || slices.ContainsFunc(tx.freedIPs, ip.Equal) {
				continue
			}
			if err := tx.ips.Release(tx.ctx, ip); err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to release IP %s: %w", ip, err))
			}
			tx.freedIPs = append(tx.freedIPs, ip)
		}
	}
	if tx.ports == nil {
		return nil
	}
	keep := heldNodePorts(svc)
	for _, np := range sets.List(heldNodePorts(old)) {
		if keep.Has(np) {
			continue
		}
		if err := tx.ports.Release(tx.ctx, int(np)); err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to release port %d: %w", np, err))
		}
		tx.freed = append(tx.freed, int(np))
	}
	return nil
}

// heldNodePorts is the node ports svc names (none for nil).
func heldNodePorts(svc *corev1.Service) sets.Set[int32] {
	held := sets.New[int32]()
	if svc == nil {
		return held
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			held.Insert(p.NodePort)
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		held.Insert(svc.Spec.HealthCheckNodePort)
	}
	return held
}

// validateProtocol checks a port's protocol (required).
func validateProtocol(proto corev1.Protocol, p *field.Path) field.ErrorList {
	switch proto {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	case "":
		return field.ErrorList{field.Required(p, "")}
	}
	return field.ErrorList{field.NotSupported(p, proto, []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP})}
}

// validateAppProtocol: an appProtocol is a qualified name
// ("kubernetes.io/h2c", "http").
func validateAppProtocol(appProtocol *string, p *field.Path) field.ErrorList {
	if appProtocol == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(*appProtocol) {
		errs = append(errs, field.Invalid(p, *appProtocol, msg))
	}
	return errs
}

// trimDot drops the one trailing dot a fully qualified DNS name may carry.
func trimDot(name string) string { return strings.TrimSuffix(name, ".") }

// fieldErrors carries a field.ErrorList through error returns inside
// the allocation code until allocate turns it into 422 Invalid.
type fieldErrors field.ErrorList

func (e fieldErrors) Error() string { return field.ErrorList(e).ToAggregate().Error() }
