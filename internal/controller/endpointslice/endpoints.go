package endpointslice

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// apiServerOwned reports whether the Endpoints object ns/name belongs to
// the API server (the kubernetes service), which we leave alone.
func apiServerOwned(ns, name string) bool {
	return ns == metav1.NamespaceDefault && name == "kubernetes"
}

// endpointsLabels are the labels of a service's Endpoints object: the
// service's, the headless marker, and skip-mirror so that the mirroring
// controller does not turn it back into slices.
func endpointsLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	delete(l, corev1.IsHeadlessService)
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[corev1.IsHeadlessService] = ""
	}
	l[discovery.LabelSkipMirror] = "true"
	return l
}

// endpointsPorts resolves svc's ports on pod for core/v1 Endpoints.
func endpointsPorts(svc *corev1.Service, p *corev1.Pod) []corev1.EndpointPort {
	out := []corev1.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if port, ok := findPort(p, sp); ok {
			out = append(out, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: protocol(sp.Protocol), AppProtocol: sp.AppProtocol})
		}
	}
	return out
}

// desiredSubsets is svc's Endpoints content: one subset per distinct set
// of resolved ports, addresses sorted by IP. Terminating pods are left
// out unless the service publishes not-ready addresses.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	type subset struct {
		ports           []corev1.EndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	byKey := map[string]*subset{}
	for _, p := range pods {
		if !includePod(p, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ports := endpointsPorts(svc, p)
		if len(svc.Spec.Ports) > 0 && len(ports) == 0 {
			continue // nothing to reach it on
		}
		sp := make([]discovery.EndpointPort, len(ports))
		for i := range ports {
			sp[i] = discovery.EndpointPort{Name: &ports[i].Name, Protocol: &ports[i].Protocol, Port: &ports[i].Port, AppProtocol: ports[i].AppProtocol}
		}
		k := portsKey(sp)
		s := byKey[k]
		if s == nil {
			s = &subset{ports: ports}
			byKey[k] = s
		}
		addr := corev1.EndpointAddress{
			IP:        podIPv4(p),
			Hostname:  hostname(svc, p),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		}
		if p.Spec.NodeName != "" {
			node := p.Spec.NodeName
			addr.NodeName = &node
		}
		if svc.Spec.PublishNotReadyAddresses || controllerutil.IsPodReady(p) {
			s.ready = append(s.ready, addr)
		} else {
			s.notReady = append(s.notReady, addr)
		}
	}
	byIP := func(a, b corev1.EndpointAddress) int {
		if c := strings.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		return strings.Compare(a.TargetRef.Name, b.TargetRef.Name)
	}
	var out []corev1.EndpointSubset
	for _, k := range sortedKeys(byKey) {
		s := byKey[k]
		slices.SortFunc(s.ready, byIP)
		slices.SortFunc(s.notReady, byIP)
		out = append(out, corev1.EndpointSubset{Addresses: s.ready, NotReadyAddresses: s.notReady, Ports: s.ports})
	}
	return out
}

// syncEndpoints writes svc's core/v1 Endpoints mirror.
func (c *Controller) syncEndpoints(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod) error {
	if apiServerOwned(svc.Namespace, svc.Name) {
		return nil
	}
	subsets := desiredSubsets(svc, pods)
	lbls := endpointsLabels(svc)
	eps := c.client.CoreV1().Endpoints(svc.Namespace)
	cur, err := eps.Get(ctx, svc.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		e := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: lbls}, Subsets: subsets}
		_, err = eps.Create(ctx, e, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, subsets) && apiequality.Semantic.DeepEqual(cur.Labels, lbls) {
		return nil
	}
	e := cur.DeepCopy()
	e.Labels, e.Subsets = lbls, subsets
	_, err = eps.Update(ctx, e, metav1.UpdateOptions{})
	return err
}

// deleteEndpoints removes the Endpoints of a deleted service.
func (c *Controller) deleteEndpoints(ctx context.Context, ns, name string) error {
	if apiServerOwned(ns, name) {
		return nil
	}
	err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
