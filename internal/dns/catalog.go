package dns

import (
	"cmp"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Index names on the informers' stores. Every query is answered with a few
// map look-ups through them: no per-change recomputation, and nothing is
// copied out of the cache (cached objects are never modified).
const (
	indexClusterIP = "clusterIP" // Services by each ClusterIP
	indexService   = "service"   // EndpointSlices by "<namespace>/<service>"
	indexAddress   = "address"   // EndpointSlices by each endpoint address
)

// tolerateUnreadyAnnotation is the spec's older way (before
// publishNotReadyAddresses) to publish endpoints that are not ready.
const tolerateUnreadyAnnotation = "service.alpha.kubernetes.io/tolerate-unready-endpoints"

// serviceIndexers are the indexes the zone needs on the Service store.
func serviceIndexers() cache.Indexers {
	return cache.Indexers{
		cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
		indexClusterIP: func(obj any) ([]string, error) {
			svc, ok := obj.(*corev1.Service)
			if !ok {
				return nil, nil
			}
			var keys []string
			for _, ip := range clusterIPs(svc) {
				keys = append(keys, ip.String())
			}
			return keys, nil
		},
	}
}

// sliceIndexers are the indexes the zone needs on the EndpointSlice store.
func sliceIndexers() cache.Indexers {
	return cache.Indexers{
		indexService: func(obj any) ([]string, error) {
			s, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
				return nil, nil
			}
			return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
		},
		indexAddress: func(obj any) ([]string, error) {
			s, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok || s.AddressType == discoveryv1.AddressTypeFQDN {
				return nil, nil
			}
			var keys []string
			for _, ep := range s.Endpoints {
				for _, a := range ep.Addresses {
					if ip := net.ParseIP(a); ip != nil {
						keys = append(keys, ip.String())
					}
				}
			}
			return keys, nil
		},
	}
}

// catalog reads Services and EndpointSlices from indexers that carry the
// indexes above. The objects it returns belong to the cache: read only.
type catalog struct {
	services cache.Indexer
	slices   cache.Indexer
}

func (c catalog) service(namespace, name string) *corev1.Service {
	obj, ok, err := c.services.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil
	}
	svc, _ := obj.(*corev1.Service)
	return svc
}

// namespaceHasServices stands in for "the namespace exists": a name
// <ns>.svc.<zone> is an empty non-terminal exactly when a Service lives
// below it.
func (c catalog) namespaceHasServices(namespace string) bool {
	keys, err := c.services.IndexKeys(cache.NamespaceIndex, namespace)
	return err == nil && len(keys) > 0
}

func (c catalog) servicesByIP(ip net.IP) []*corev1.Service {
	objs, _ := c.services.ByIndex(indexClusterIP, ip.String())
	out := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok {
			out = append(out, svc)
		}
	}
	return out
}

func (c catalog) slicesOf(svc *corev1.Service) []*discoveryv1.EndpointSlice {
	objs, _ := c.slices.ByIndex(indexService, svc.Namespace+"/"+svc.Name)
	return toSlices(objs)
}

func (c catalog) slicesByAddress(ip net.IP) []*discoveryv1.EndpointSlice {
	objs, _ := c.slices.ByIndex(indexAddress, ip.String())
	return toSlices(objs)
}

// toSlices orders the slices by name: an index returns them in no
// particular order, and answers should not shuffle between queries.
func toSlices(objs []any) []*discoveryv1.EndpointSlice {
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int {
			return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
		})
	}
	return out
}

// endpoint is one ready address of a headless Service, with the name the
// spec calls its hostname and the ports of its slice.
type endpoint struct {
	host  string // the endpoint's hostname, else its address with dashes
	ip    net.IP
	ports []discoveryv1.EndpointPort
}

// readyEndpoints lists svc's ready endpoints across its slices, each
// (hostname, address) once. A slice lists the same endpoint twice only in
// passing, while the EndpointSlice controller moves it.
func (c catalog) readyEndpoints(svc *corev1.Service) []endpoint {
	var out []endpoint
	seen := map[string]bool{}
	for _, s := range c.slicesOf(svc) {
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range s.Endpoints {
			if !endpointReady(svc, ep) {
				continue
			}
			for _, a := range ep.Addresses {
				ip := net.ParseIP(a)
				if ip == nil {
					continue
				}
				host := dashed(ip)
				if ep.Hostname != nil && *ep.Hostname != "" {
					host = strings.ToLower(*ep.Hostname)
				}
				key := host + "/" + ip.String()
				if seen[key] {
					continue
				}
				seen[key] = true
				out = append(out, endpoint{host: host, ip: ip, ports: s.Ports})
			}
		}
	}
	return out
}

// endpointReady is the spec's "ready": ready, or published regardless.
func endpointReady(svc *corev1.Service, ep discoveryv1.Endpoint) bool {
	return ep.Conditions.Ready == nil || *ep.Conditions.Ready ||
		svc.Spec.PublishNotReadyAddresses || svc.Annotations[tolerateUnreadyAnnotation] == "true"
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// clusterIPs are svc's allocated cluster IPs, of both families.
func clusterIPs(svc *corev1.Service) []net.IP {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	list := svc.Spec.ClusterIPs
	if len(list) == 0 && svc.Spec.ClusterIP != "" {
		list = []string{svc.Spec.ClusterIP}
	}
	var out []net.IP
	for _, s := range list {
		if ip := net.ParseIP(s); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

// dashed is the system-assigned hostname of an endpoint without one, as
// CoreDNS forms it: 10.42.0.7 → 10-42-0-7, fd00::7 → fd00--7.
func dashed(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return strings.ReplaceAll(v4.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.String(), ":", "-")
}
