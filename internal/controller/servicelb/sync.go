package servicelb

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// errSuperseded: the Service changed while its status was being written;
// the sync its update queued decides again.
var errSuperseded = errors.New("service changed while updating its status")

// sync brings one Service's load-balancer status to what it should be.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.release(key)
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass != nil {
		c.release(key)
		return nil // another implementation's
	}
	if !wantsLoadBalancer(svc) {
		c.release(key)
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return nil
		}
		if err := c.setIngress(ctx, svc, nil); err != nil {
			return ignoreSuperseded(err)
		}
		c.log.Info("load balancer removed", "service", key, "type", svc.Spec.Type)
		c.recorder.Event(svc, corev1.EventTypeNormal, EventDeletedLoadBalancer, "Deleted load balancer")
		return nil
	}

	var addrs []netip.Addr
	if c.pool != nil {
		ip, ok := c.poolAddress(svc, key)
		if !ok {
			return nil // queued again when an address is released
		}
		addrs = []netip.Addr{ip}
	} else {
		nodes, err := c.nodeLister.List(labels.Everything())
		if err != nil {
			return err
		}
		addrs = nodeAddresses(nodes, svc.Spec.IPFamilies)
	}
	want := ingressOf(addrs)
	if sameIngress(svc.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	if err := c.setIngress(ctx, svc, want); err != nil {
		return ignoreSuperseded(err)
	}
	c.log.Info("load balancer status set", "service", key, "ingress", addrs)
	if len(want) > 0 {
		c.recorder.Event(svc, corev1.EventTypeNormal, EventEnsuredLoadBalancer, "Ensured load balancer")
	}
	return nil
}

// poolAddress is the pool address of the Service: spec.loadBalancerIP if
// it asks for one (kept from before if that one is not available), else
// the one it holds or the lowest free one of its primary family. false,
// with a warning event, when it has none.
func (c *Controller) poolAddress(svc *corev1.Service, key string) (netip.Addr, bool) {
	if req := svc.Spec.LoadBalancerIP; req != "" {
		ip, err := netip.ParseAddr(req)
		switch {
		case err != nil:
			c.allocationFailed(svc, "spec.loadBalancerIP %q is not an IP address", req)
		case !c.pool.contains(ip):
			c.allocationFailed(svc, "Failed to allocate IP for %q: %s is not in the address pool", key, req)
		case c.pool.assign(key, ip):
			return ip.Unmap(), true
		default:
			c.allocationFailed(svc, "Failed to allocate IP for %q: %s is already in use by another Service", key, req)
		}
		return c.pool.get(key)
	}
	if ip, ok := c.pool.allocate(key, primaryIPv4(svc)); ok {
		return ip, true
	}
	c.allocationFailed(svc, "Failed to allocate IP for %q: no available IPs in the address pool", key)
	return netip.Addr{}, false
}

func (c *Controller) allocationFailed(svc *corev1.Service, format string, args ...any) {
	c.log.Warn("no load balancer address", "service", svc.Namespace+"/"+svc.Name, "reason", EventAllocationFailed)
	c.recorder.Eventf(svc, corev1.EventTypeWarning, EventAllocationFailed, format, args...)
}

// primaryIPv4 reports whether the Service's primary family is IPv4 (also
// when it does not say).
func primaryIPv4(svc *corev1.Service) bool {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies[0] == corev1.IPv4Protocol
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	return err != nil || ip.Unmap().Is4()
}

// release frees key's pool address, and lets every Service waiting for
// one try again.
func (c *Controller) release(key string) {
	if c.pool != nil && c.pool.release(key) {
		c.log.Debug("released load balancer address", "service", key)
		c.enqueueLoadBalancers()
	}
}

// setIngress writes the Service's load-balancer status. On a conflict it
// reads the Service again and retries, unless what decides the status
// changed meanwhile (errSuperseded).
func (c *Controller) setIngress(ctx context.Context, svc *corev1.Service, want []corev1.LoadBalancerIngress) error {
	cur := svc
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		upd := cur.DeepCopy()
		upd.Status.LoadBalancer = corev1.LoadBalancerStatus{Ingress: want}
		_, err := c.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			if apierrors.IsNotFound(err) {
				return errSuperseded
			}
			return err
		}
		fresh, gerr := c.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(gerr):
			return errSuperseded
		case gerr != nil:
			return gerr
		case fresh.UID != svc.UID || !sameDecidingSpec(fresh, svc):
			return errSuperseded
		}
		cur = fresh
		return err
	})
}

// sameDecidingSpec reports whether the fields the status is computed from
// are the same in both.
func sameDecidingSpec(a, b *corev1.Service) bool {
	return a.Spec.Type == b.Spec.Type && a.Spec.LoadBalancerIP == b.Spec.LoadBalancerIP &&
		(a.Spec.LoadBalancerClass == nil) == (b.Spec.LoadBalancerClass == nil) &&
		slices.Equal(a.Spec.IPFamilies, b.Spec.IPFamilies)
}

func ignoreSuperseded(err error) error {
	if errors.Is(err, errSuperseded) {
		return nil
	}
	return err
}
