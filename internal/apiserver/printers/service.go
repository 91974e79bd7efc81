package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// ServiceColumns are `kubectl get services` columns.
var ServiceColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]),
	column("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
	column("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
	column("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
	ageColumn(),
	wide(column("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"])),
}

// ServiceRow gives the ServiceColumns cells of a *corev1.Service.
func ServiceRow(obj runtime.Object, now time.Time) []interface{} {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return mismatchRow(obj, ServiceColumns)
	}
	return []interface{}{
		svc.Name,
		string(svc.Spec.Type),
		orNone(clusterIP(svc)),
		externalIP(svc),
		orNone(servicePorts(svc.Spec.Ports)),
		age(svc.CreationTimestamp, now),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

// clusterIP is the primary cluster IP ("None" for a headless service);
// spec.clusterIP stands in for a spec written without clusterIPs.
func clusterIP(svc *corev1.Service) string {
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs[0]
	}
	return svc.Spec.ClusterIP
}

// externalIP is what EXTERNAL-IP shows for each service type. Server-side
// tables are always wide, so load-balancer addresses are never shortened.
func externalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		addrs := append(loadBalancerAddresses(svc.Status.LoadBalancer), svc.Spec.ExternalIPs...)
		if len(addrs) == 0 {
			return "<pending>"
		}
		return strings.Join(addrs, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return unknown
}

// loadBalancerAddresses are the distinct ingress IPs (or hostnames, for an
// ingress without an IP), sorted.
func loadBalancerAddresses(lb corev1.LoadBalancerStatus) []string {
	seen := make(map[string]bool)
	var addrs []string
	for _, in := range lb.Ingress {
		a := in.IP
		if a == "" {
			a = in.Hostname
		}
		if a != "" && !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	return addrs
}

// servicePorts prints ports as "80/TCP", or "80:30080/TCP" with a node port.
func servicePorts(ports []corev1.ServicePort) string {
	out := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			out[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			out[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(out, ",")
}

// EndpointsColumns are `kubectl get endpoints` columns.
var EndpointsColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
	ageColumn(),
}

// EndpointsRow gives the EndpointsColumns cells of a *corev1.Endpoints.
func EndpointsRow(obj runtime.Object, now time.Time) []interface{} {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		return mismatchRow(obj, EndpointsColumns)
	}
	return []interface{}{ep.Name, endpointsText(ep), age(ep.CreationTimestamp, now)}
}

// endpointsText lists ready addresses as ip:port for every port of their
// subset (just ip when a subset has no ports), e.g.
// "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...", or "<none>" without
// subsets.
func endpointsText(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return none
	}
	var l shortList
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				l.add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				l.add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return l.String()
}

// EndpointSliceColumns are `kubectl get endpointslices` columns.
var EndpointSliceColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("AddressType", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]),
	column("Ports", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]),
	column("Endpoints", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]),
	ageColumn(),
}

// EndpointSliceRow gives the EndpointSliceColumns cells of a
// *discoveryv1.EndpointSlice.
func EndpointSliceRow(obj runtime.Object, now time.Time) []interface{} {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return mismatchRow(obj, EndpointSliceColumns)
	}
	var ports, addrs shortList
	for _, p := range es.Ports {
		switch {
		case p.Port != nil:
			ports.add(strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			ports.add(*p.Name)
		default:
			ports.add("*")
		}
	}
	for _, e := range es.Endpoints {
		for _, a := range e.Addresses {
			addrs.add(a)
		}
	}
	return []interface{}{
		es.Name,
		string(es.AddressType),
		ports.orUnset(),
		addrs.orUnset(),
		age(es.CreationTimestamp, now),
	}
}

// shortListMax is how many entries a list cell shows before "+ N more...".
const shortListMax = 3

// shortList keeps the first shortListMax entries and counts all of them.
type shortList struct {
	shown []string
	total int
}

func (l *shortList) add(s string) {
	if len(l.shown) < shortListMax {
		l.shown = append(l.shown, s)
	}
	l.total++
}

// String joins the shown entries with commas and tells how many were left
// out.
func (l shortList) String() string {
	s := strings.Join(l.shown, ",")
	if l.total > shortListMax {
		return fmt.Sprintf("%s + %d more...", s, l.total-shortListMax)
	}
	return s
}

// orUnset is String, or "<unset>" for an empty list.
func (l shortList) orUnset() string {
	if l.total == 0 {
		return unset
	}
	return l.String()
}
