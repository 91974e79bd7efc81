package endpointslice

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

var serviceKind = corev1.SchemeGroupVersion.WithKind("Service")

// podIPv4 returns the pod's IPv4 address, or "" when it has none yet.
func podIPv4(p *corev1.Pod) string {
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return s
		}
	}
	return ""
}

// includePod reports whether pod belongs in the endpoints at all: it has
// an IPv4 address, has not finished, and is not terminating unless
// terminating pods are wanted.
func includePod(p *corev1.Pod, includeTerminating bool) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if podIPv4(p) == "" {
		return false
	}
	return includeTerminating || p.DeletionTimestamp == nil
}

// findPort resolves a service port's target port on pod: a named target
// port is looked up among the pod's container ports (name and protocol),
// a number is taken as is, and no target port means the service port.
func findPort(p *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.String {
		if tp.StrVal == "" {
			return sp.Port, true
		}
		for _, ctr := range p.Spec.Containers {
			for _, cp := range ctr.Ports {
				if cp.Name == tp.StrVal && protocol(cp.Protocol) == protocol(sp.Protocol) {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if tp.IntVal == 0 {
		return sp.Port, true
	}
	return tp.IntVal, true
}

func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// slicePorts resolves svc's ports on pod; ports that do not resolve are
// left out.
func slicePorts(svc *corev1.Service, p *corev1.Pod) []discovery.EndpointPort {
	out := []discovery.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, ok := findPort(p, sp)
		if !ok {
			continue
		}
		name, proto := sp.Name, protocol(sp.Protocol)
		out = append(out, discovery.EndpointPort{Name: &name, Protocol: &proto, Port: &port, AppProtocol: sp.AppProtocol})
	}
	return out
}

// portsKey identifies a set of slice ports; endpoints sharing it share
// slices.
func portsKey(ports []discovery.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		var name, proto, app string
		var port int32
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		if p.Port != nil {
			port = *p.Port
		}
		if p.AppProtocol != nil {
			app = *p.AppProtocol
		}
		parts = append(parts, fmt.Sprintf("%s/%s/%d/%s", name, proto, port, app))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// podEndpoint is the slice endpoint for pod.
func podEndpoint(svc *corev1.Service, p *corev1.Pod) discovery.Endpoint {
	podReady := controllerutil.IsPodReady(p)
	terminating := p.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (podReady && !terminating)
	serving := svc.Spec.PublishNotReadyAddresses || podReady
	ep := discovery.Endpoint{
		Addresses:  []string{podIPv4(p)},
		Conditions: discovery.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
	if p.Spec.NodeName != "" {
		node := p.Spec.NodeName
		ep.NodeName = &node
	}
	if h := hostname(svc, p); h != "" {
		ep.Hostname = &h
	}
	return ep
}

// hostname is the pod's DNS hostname under svc, when its subdomain is svc.
func hostname(svc *corev1.Service, p *corev1.Pod) string {
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name && svc.Namespace == p.Namespace {
		return p.Spec.Hostname
	}
	return ""
}

func sliceLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	l[discovery.LabelServiceName] = svc.Name
	l[discovery.LabelManagedBy] = ManagedBy
	delete(l, corev1.IsHeadlessService)
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[corev1.IsHeadlessService] = ""
	}
	return l
}

func ownedBy(s *discovery.EndpointSlice, svc *corev1.Service) bool {
	ref := metav1.GetControllerOf(s)
	return ref != nil && ref.UID == svc.UID && ref.Kind == "Service"
}

func endpointUID(ep *discovery.Endpoint) types.UID {
	if ep.TargetRef == nil {
		return ""
	}
	return ep.TargetRef.UID
}

// portGroup is the desired endpoints sharing one port set.
type portGroup struct {
	ports []discovery.EndpointPort
	eps   map[types.UID]discovery.Endpoint
	order []types.UID // by pod name
}

// plannedSlice is an existing slice (or a new one when orig is nil) with
// the endpoints it should hold.
type plannedSlice struct {
	orig  *discovery.EndpointSlice
	ports []discovery.EndpointPort
	eps   []discovery.Endpoint
}

// syncSlices brings the managed slices of svc in line with pods. Endpoints
// stay in the slice they are in when they can; new ones fill slices with
// room before new slices are created.
func (c *Controller) syncSlices(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod) error {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	groups := map[string]*portGroup{}
	for _, p := range pods {
		if !includePod(p, true) {
			continue
		}
		ports := slicePorts(svc, p)
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &portGroup{ports: ports, eps: map[types.UID]discovery.Endpoint{}}
			groups[k] = g
		}
		if _, dup := g.eps[p.UID]; !dup {
			g.eps[p.UID] = podEndpoint(svc, p)
			g.order = append(g.order, p.UID)
		}
	}

	sel := labels.SelectorFromSet(labels.Set{discovery.LabelServiceName: svc.Name, discovery.LabelManagedBy: ManagedBy})
	existing, err := c.sliceLister.EndpointSlices(svc.Namespace).List(sel)
	if err != nil {
		return err
	}
	slices.SortFunc(existing, func(a, b *discovery.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	var leftover []*discovery.EndpointSlice
	byKey := map[string][]*discovery.EndpointSlice{}
	for _, s := range existing {
		if !ownedBy(s, svc) || s.AddressType != discovery.AddressTypeIPv4 {
			leftover = append(leftover, s) // not ours to keep: remove
			continue
		}
		k := portsKey(s.Ports)
		byKey[k] = append(byKey[k], s)
	}

	var plan []*plannedSlice
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		placed := map[types.UID]bool{}
		var mine []*plannedSlice
		for _, s := range byKey[k] {
			ps := &plannedSlice{orig: s, ports: g.ports}
			for i := range s.Endpoints {
				uid := endpointUID(&s.Endpoints[i])
				if ep, want := g.eps[uid]; want && !placed[uid] && len(ps.eps) < MaxEndpointsPerSlice {
					ps.eps = append(ps.eps, ep)
					placed[uid] = true
				}
			}
			mine = append(mine, ps)
		}
		delete(byKey, k)
		next := 0
		for _, uid := range g.order {
			if placed[uid] {
				continue
			}
			for next < len(mine) && len(mine[next].eps) >= MaxEndpointsPerSlice {
				next++
			}
			if next == len(mine) {
				mine = append(mine, &plannedSlice{ports: g.ports})
			}
			mine[next].eps = append(mine[next].eps, g.eps[uid])
		}
		for _, ps := range mine {
			if len(ps.eps) == 0 {
				leftover = append(leftover, ps.orig)
				continue
			}
			plan = append(plan, ps)
		}
	}
	for _, k := range sortedKeys(byKey) {
		leftover = append(leftover, byKey[k]...)
	}
	if len(plan) == 0 {
		// No endpoints at all: keep one empty placeholder slice, reusing
		// an owned one when there is one.
		ps := &plannedSlice{}
		for i, s := range leftover {
			if ownedBy(s, svc) && s.AddressType == discovery.AddressTypeIPv4 {
				ps.orig = s
				leftover = slices.Delete(leftover, i, i+1)
				break
			}
		}
		plan = append(plan, ps)
	}

	// Creations first, then updates, then deletions, so endpoints do not
	// vanish in between.
	for _, ps := range plan {
		if ps.orig != nil {
			continue
		}
		s := &discovery.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName:    svc.Name + "-",
				Namespace:       svc.Namespace,
				Labels:          sliceLabels(svc),
				OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(svc, serviceKind)},
			},
			AddressType: discovery.AddressTypeIPv4,
			Ports:       ps.ports,
			Endpoints:   ps.eps,
		}
		if _, err := c.client.DiscoveryV1().EndpointSlices(svc.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			if apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			return err
		}
	}
	for _, ps := range plan {
		if ps.orig == nil {
			continue
		}
		want := sliceLabels(svc)
		if apiequality.Semantic.DeepEqual(ps.orig.Labels, want) &&
			apiequality.Semantic.DeepEqual(ps.orig.Ports, ps.ports) &&
			apiequality.Semantic.DeepEqual(ps.orig.Endpoints, ps.eps) {
			continue
		}
		s := ps.orig.DeepCopy()
		s.Labels, s.Ports, s.Endpoints = want, ps.ports, ps.eps
		if _, err := c.client.DiscoveryV1().EndpointSlices(svc.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	for _, s := range leftover {
		err := c.client.DiscoveryV1().EndpointSlices(svc.Namespace).Delete(ctx, s.Name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
