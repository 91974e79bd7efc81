package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/dns"
)

// The cluster DNS Service, named and labelled as upstream's kube-dns
// Service so tools that look for it (kubectl cluster-info, dnsutils
// guides) find it.
const (
	clusterDNSService   = "kube-dns"
	clusterDNSManagedBy = "skiff-server"
	// DefaultClusterDNSPort is where each server's DNS listens on its
	// advertise address. The kube-dns Service maps port 53 to it, so
	// nothing on the host's port 53 (a local resolver) is in the way.
	DefaultClusterDNSPort = 10053
)

// clusterDNS runs the cluster DNS server on the server's advertise
// address and keeps the kube-dns Service (at the cluster DNS IP) and this
// server's EndpointSlice of it, so pods reach DNS at 10.43.0.10:53
// through every node's Service proxy.
type clusterDNS struct {
	client    kubernetes.Interface
	server    *dns.Server
	serviceIP net.IP
	// advertise is the endpoint address; loopback publishes none.
	advertise net.IP
	// sliceName is this server's EndpointSlice of kube-dns, named after
	// its address so every server of an HA control plane has its own.
	sliceName string
	log       *slog.Logger
}

func newClusterDNS(cfg *rest.Config, domain string, serviceIP, advertise net.IP, port int, log *slog.Logger) (*clusterDNS, error) {
	client, err := ComponentClient(cfg, "skiff-dns")
	if err != nil {
		return nil, err
	}
	srv, err := dns.New(dns.Config{Client: client, Domain: domain,
		Listen: []string{net.JoinHostPort(advertise.String(), strconv.Itoa(port))}, Logger: log})
	if err != nil {
		return nil, err
	}
	return &clusterDNS{client: client, server: srv, serviceIP: serviceIP, advertise: advertise,
		sliceName: clusterDNSService + "-" + sanitizeName(advertise.String()), log: log}, nil
}

// sanitizeName makes s usable in an object name (DNS-1123 label chars).
func sanitizeName(s string) string {
	s = strings.ToLower(s)
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	s = strings.Trim(string(b), "-")
	if len(s) > 40 {
		s = s[:40]
	}
	if s == "" {
		s = "server"
	}
	return s
}

// Run serves DNS until ctx ends, keeping the Service and the endpoint
// published (re-created within a minute if someone deletes them); on the
// way out the endpoint is withdrawn so clients stop being sent here.
func (c *clusterDNS) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- c.server.Run(ctx) }()
	select {
	case <-c.server.Ready():
	case err := <-errc:
		return err
	}
	_, portStr, _ := net.SplitHostPort(c.server.Addr())
	port, _ := strconv.Atoi(portStr)
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		if err := c.publish(ctx, int32(port)); err != nil && ctx.Err() == nil {
			c.log.Warn("publishing the kube-dns Service", "err", err)
		}
		select {
		case <-ctx.Done():
			c.withdraw()
			return <-errc
		case err := <-errc:
			c.withdraw()
			return err
		case <-t.C:
		}
	}
}

// publish makes sure the kube-dns Service and this server's endpoints
// exist as they should.
func (c *clusterDNS) publish(ctx context.Context, port int32) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: clusterDNSService, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
				"kubernetes.io/name": "CoreDNS"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: c.serviceIP.String(),
			Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(port)},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(port)},
			},
		},
	}
	// Create only what is missing: a create naming the taken cluster IP
	// is refused as Invalid, not AlreadyExists.
	services := c.client.CoreV1().Services(metav1.NamespaceSystem)
	if _, err := services.Get(ctx, clusterDNSService, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := services.Create(ctx, svc, metav1.CreateOptions{FieldManager: clusterDNSManagedBy}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("service %s: %w", clusterDNSService, err)
		}
	} else if err != nil {
		return fmt.Errorf("service %s: %w", clusterDNSService, err)
	}
	if c.advertise.IsLoopback() || c.advertise.IsUnspecified() {
		return nil // pods cannot reach it: publish no endpoint
	}
	ready := true
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dnsName, tcpName := "dns", "dns-tcp"
	want := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: c.sliceName, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{discoveryv1.LabelServiceName: clusterDNSService, discoveryv1.LabelManagedBy: clusterDNSManagedBy}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{c.advertise.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &ready}}},
		Ports: []discoveryv1.EndpointPort{{Name: &dnsName, Protocol: &udp, Port: &port}, {Name: &tcpName, Protocol: &tcp, Port: &port}},
	}
	slices := c.client.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem)
	cur, err := slices.Get(ctx, c.sliceName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = slices.Create(ctx, want, metav1.CreateOptions{FieldManager: clusterDNSManagedBy})
		return err
	}
	if err != nil {
		return err
	}
	if endpointsEqual(cur, want) {
		return nil
	}
	want.ResourceVersion = cur.ResourceVersion
	_, err = slices.Update(ctx, want, metav1.UpdateOptions{FieldManager: clusterDNSManagedBy})
	return err
}

func endpointsEqual(a, b *discoveryv1.EndpointSlice) bool {
	if len(a.Endpoints) != 1 || len(a.Ports) != len(b.Ports) || a.Labels[discoveryv1.LabelServiceName] != clusterDNSService {
		return false
	}
	if strings.Join(a.Endpoints[0].Addresses, ",") != strings.Join(b.Endpoints[0].Addresses, ",") ||
		a.Endpoints[0].Conditions.Ready == nil || !*a.Endpoints[0].Conditions.Ready {
		return false
	}
	for i := range a.Ports {
		if a.Ports[i].Port == nil || *a.Ports[i].Port != *b.Ports[i].Port {
			return false
		}
	}
	return true
}

// withdraw deletes this server's endpoints, best effort.
func (c *clusterDNS) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := c.client.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem).Delete(ctx, c.sliceName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.log.Debug("withdrawing the DNS endpoint", "err", err)
	}
}
