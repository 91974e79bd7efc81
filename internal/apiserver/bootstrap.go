package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// System namespaces every cluster has.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

func (s *Server) namespaces() *endpoint {
	return s.endpoints[corev1.SchemeGroupVersion.WithResource("namespaces")]
}

// bootstrap creates what the cluster needs before clients come: the
// system namespaces, the built-in PriorityClasses, the allocator state
// repaired from the Services that exist, and the kubernetes Service with
// its endpoints.
func (s *Server) bootstrap(ctx context.Context) error {
	sys := writeOptions{fieldManager: "skiff-apiserver", fieldValidation: metav1.FieldValidationIgnore}
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := s.create(ctx, s.namespaces(), "", ns, sys); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
	}
	if err := s.ensureSystemPriorityClasses(ctx, sys); err != nil {
		return err
	}
	if err := s.repairAllocators(ctx); err != nil {
		return fmt.Errorf("repairing allocators: %w", err)
	}
	return s.ensureKubernetesService(ctx, sys)
}

// ensureSystemPriorityClasses creates the built-in PriorityClasses
// (system-node-critical, system-cluster-critical); existing ones are kept,
// as validation already pins their values.
func (s *Server) ensureSystemPriorityClasses(ctx context.Context, sys writeOptions) error {
	ep := s.endpoints[schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")]
	for _, pc := range resources.SystemPriorityClasses() {
		if _, err := s.create(ctx, ep, "", pc, sys); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("priority class %s: %w", pc.Name, err)
		}
	}
	return nil
}

// repairAllocators rebuilds the ClusterIP and node port bitmaps from the
// stored Services, so a crash between allocating and storing a Service
// never leaks an address and a restored etcd backup stays consistent.
func (s *Server) repairAllocators(ctx context.Context) error {
	ep := s.endpoints[corev1.SchemeGroupVersion.WithResource("services")]
	list := &corev1.ServiceList{}
	if err := ep.store.List(ctx, ep.listKey(""), storage.ListOptions{Recursive: true}, list); err != nil {
		return err
	}
	var ips, ports []int
	for _, svc := range list.Items {
		for _, ipStr := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
			if ip := net.ParseIP(ipStr); ip != nil {
				if off, ok := s.serviceIPs.offset(ip); ok {
					ips = append(ips, off)
				}
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				ports = append(ports, int(p.NodePort)-s.nodePorts.base)
			}
		}
		if svc.Spec.HealthCheckNodePort != 0 {
			ports = append(ports, int(svc.Spec.HealthCheckNodePort)-s.nodePorts.base)
		}
	}
	if err := s.serviceIPs.reset(ctx, ips); err != nil {
		return err
	}
	return s.nodePorts.reset(ctx, ports)
}

// kubernetesServiceIP is the first address of the service CIDR.
func (s *Server) kubernetesServiceIP() net.IP { return s.serviceIPs.ip(0) }

func (s *Server) ensureKubernetesService(ctx context.Context, sys writeOptions) error {
	svcEP := s.endpoints[corev1.SchemeGroupVersion.WithResource("services")]
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: s.kubernetesServiceIP().String(),
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443,
				TargetPort: intstr.FromInt32(int32(s.cfg.SecurePort))}},
			SessionAffinity: corev1.ServiceAffinityNone,
			Type:            corev1.ServiceTypeClusterIP,
		},
	}
	existing := &corev1.Service{}
	err := svcEP.store.Get(ctx, svcEP.key(metav1.NamespaceDefault, "kubernetes"), storage.GetOptions{}, existing)
	if errors.Is(err, storage.ErrNotFound) {
		_, err = s.create(ctx, svcEP, metav1.NamespaceDefault, svc, sys)
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("kubernetes service: %w", err)
	}
	if s.cfg.AdvertiseAddress.IsLoopback() {
		// Pods cannot reach the host's loopback, and upstream rejects
		// loopback endpoint addresses: publish none.
		s.log.Warn("advertise address is a loopback address; the kubernetes Service gets no endpoints",
			"address", s.cfg.AdvertiseAddress.String())
		return nil
	}
	ip := s.cfg.AdvertiseAddress.String()
	port := int32(s.cfg.SecurePort)
	endpoints := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := s.putSystemObject(ctx, corev1.SchemeGroupVersion.WithResource("endpoints"), metav1.NamespaceDefault, endpoints, sys); err != nil {
		return err
	}
	ready := true
	name, proto := "https", corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	return s.putSystemObject(ctx, discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), metav1.NamespaceDefault, slice, sys)
}

// putSystemObject creates obj or overwrites the stored one's content.
func (s *Server) putSystemObject(ctx context.Context, gvr schema.GroupVersionResource, ns string, obj runtime.Object, sys writeOptions) error {
	ep := s.endpoints[gvr]
	m := obj.(metav1.Object)
	_, err := s.create(ctx, ep, ns, obj.DeepCopyObject(), sys)
	if err == nil || !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = s.update(ctx, ep, ns, m.GetName(), updateMain, sys, func(_ context.Context, cur runtime.Object) (runtime.Object, error) {
		next := obj.DeepCopyObject()
		next.(metav1.Object).SetLabels(m.GetLabels())
		return next, nil
	})
	return err
}

// runCompactor compacts etcd history on the configured interval.
func (s *Server) runCompactor(ctx context.Context) error {
	err := storage.RunCompactor(ctx, s.cfg.Etcd, s.cfg.CompactionInterval)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return err
}
