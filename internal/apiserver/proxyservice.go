package apiserver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/storage"
)

// serviceProxyLocation is where services/proxy reaches a service: a ready
// endpoint, chosen at random, whose pod still has the endpoint's IP (as
// upstream checks, so a stale endpoint is not proxied to).
func (s *Server) serviceProxyLocation(ctx context.Context, ep *endpoint, ns, id, scheme, name, port string) (*url.URL, error) {
	svc := &corev1.Service{}
	if err := ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, svc); err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), name)
	}
	portName, err := servicePortName(svc, port)
	if err != nil {
		return nil, err
	}
	cands, err := s.serviceEndpoints(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	}
	pods := s.endpoints[corev1.SchemeGroupVersion.WithResource("pods")]
	podHasIP := func(ctx context.Context, ref *corev1.ObjectReference, ip string) bool {
		if ref == nil || ref.Namespace != ns || pods == nil {
			return false
		}
		pod := &corev1.Pod{}
		if err := pods.store.Get(ctx, pods.key(ns, ref.Name), storage.GetOptions{}, pod); err != nil {
			return false
		}
		for _, p := range pod.Status.PodIPs {
			if p.IP == ip {
				return true
			}
		}
		return pod.Status.PodIP == ip
	}
	addr, ok := pickServiceEndpoint(ctx, cands, portName, rand.IntN, podHasIP)
	if !ok {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", id))
	}
	if scheme == "" {
		scheme = "http"
	}
	return &url.URL{Scheme: scheme, Host: addr}, nil
}

// servicePortName is the name of the service port asked for: a number
// is looked up among spec.ports; a name (or nothing, for a service's one
// unnamed port) is used as it is.
func servicePortName(svc *corev1.Service, port string) (string, error) {
	num, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		return port, nil
	}
	for _, p := range svc.Spec.Ports {
		if int64(p.Port) == num {
			return p.Name, nil
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", num, svc.Name))
}

// endpointGroup is a set of ready addresses that share ports: one
// EndpointSlice, or one subset of an Endpoints object.
type endpointGroup struct {
	ports map[string]int32 // by port name
	addrs []endpointAddr
}

type endpointAddr struct {
	ip  string
	ref *corev1.ObjectReference
}

// serviceEndpoints reads the ready addresses of a service from its
// EndpointSlices, or, when it has none, from its Endpoints object.
func (s *Server) serviceEndpoints(ctx context.Context, ns, name string) ([]endpointGroup, error) {
	var groups []endpointGroup
	if sep := s.endpoints[discoveryv1.SchemeGroupVersion.WithResource("endpointslices")]; sep != nil {
		list := &discoveryv1.EndpointSliceList{}
		if err := sep.store.List(ctx, sep.listKey(ns), storage.ListOptions{Recursive: true}, list); err != nil {
			return nil, toAPIError(err, sep.res.GroupResource(), "")
		}
		found := false
		for i := range list.Items {
			sl := &list.Items[i]
			if sl.Labels[discoveryv1.LabelServiceName] != name {
				continue
			}
			found = true
			if g := sliceGroup(sl); len(g.addrs) > 0 {
				groups = append(groups, g)
			}
		}
		if found {
			return groups, nil
		}
	}
	eep := s.endpoints[corev1.SchemeGroupVersion.WithResource("endpoints")]
	if eep == nil {
		return nil, nil
	}
	eps := &corev1.Endpoints{}
	if err := eep.store.Get(ctx, eep.key(ns, name), storage.GetOptions{}, eps); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil
		}
		return nil, toAPIError(err, eep.res.GroupResource(), name)
	}
	for _, ss := range eps.Subsets {
		g := endpointGroup{ports: map[string]int32{}}
		for _, p := range ss.Ports {
			g.ports[p.Name] = p.Port
		}
		for i := range ss.Addresses {
			g.addrs = append(g.addrs, endpointAddr{ip: ss.Addresses[i].IP, ref: ss.Addresses[i].TargetRef})
		}
		if len(g.addrs) > 0 {
			groups = append(groups, g)
		}
	}
	return groups, nil
}

func sliceGroup(sl *discoveryv1.EndpointSlice) endpointGroup {
	g := endpointGroup{ports: map[string]int32{}}
	for _, p := range sl.Ports {
		if p.Port == nil {
			continue
		}
		n := ""
		if p.Name != nil {
			n = *p.Name
		}
		g.ports[n] = *p.Port
	}
	for i := range sl.Endpoints {
		e := &sl.Endpoints[i]
		if (e.Conditions.Ready != nil && !*e.Conditions.Ready) || len(e.Addresses) == 0 {
			continue
		}
		g.addrs = append(g.addrs, endpointAddr{ip: e.Addresses[0], ref: e.TargetRef})
	}
	return g
}

// pickServiceEndpoint chooses, starting from random places, a valid
// address in a group that has portName and returns it joined with the
// port; valid reports whether the address's pod still has that IP.
func pickServiceEndpoint(ctx context.Context, groups []endpointGroup, portName string, intn func(int) int,
	valid func(context.Context, *corev1.ObjectReference, string) bool) (string, bool) {
	gs := intn(len(groups))
	for gi := range groups {
		g := groups[(gs+gi)%len(groups)]
		port, ok := g.ports[portName]
		if !ok || len(g.addrs) == 0 {
			continue
		}
		as := intn(len(g.addrs))
		for ai := range g.addrs {
			a := g.addrs[(as+ai)%len(g.addrs)]
			if valid(ctx, a.ref, a.ip) {
				return net.JoinHostPort(a.ip, strconv.Itoa(int(port))), true
			}
		}
	}
	return "", false
}
