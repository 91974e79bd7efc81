// Package servicelb is skiff's built-in load balancer for Services of type
// LoadBalancer that name no spec.loadBalancerClass. It runs no pods and
// programs nothing: it only fills in status.loadBalancer.ingress (ipMode
// VIP), and the service proxy on every node accepts traffic for those
// addresses. In node IPs mode (the default) a Service's ingress is the
// addresses of the Ready, schedulable nodes, so a packet sent to any of
// them reaches the Service. With an address pool each Service gets an
// address of its own, spec.loadBalancerIP if it asks for a free one in the
// pool; the allocations live in the Services' status, and Start rebuilds
// them before handing out any. Making the addresses reachable (routing or
// answering ARP for pool addresses) is not this package's job.
//
// A Service that stops being a LoadBalancer loses its ingress and its pool
// address; a Service with a loadBalancerClass belongs to another
// implementation and is never touched.
package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs, events and queue metrics.
const Name = "servicelb-controller"

// Event reasons, as upstream's service controller and MetalLB use them.
const (
	EventEnsuredLoadBalancer = "EnsuredLoadBalancer"
	EventDeletedLoadBalancer = "DeletedLoadBalancer"
	EventAllocationFailed    = "AllocationFailed"
)

// Options are the controller's tunables; the zero value is node IPs mode.
type Options struct {
	// Pool and Ranges, if either is set, switch to pool mode: each Service
	// gets one address of these.
	Pool   []netip.Prefix
	Ranges []IPRange
	// Workers syncing Services; default 2.
	Workers int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Recorder for events; default one writing through the client.
	Recorder record.EventRecorder
}

// Controller sets the load-balancer status of Services.
type Controller struct {
	client     kubernetes.Interface
	svcLister  corelisters.ServiceLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	pool       *pool // nil in node IPs mode
	workers    int
	log        *slog.Logger
	recorder   record.EventRecorder
}

// New returns a controller fed by the two informers; the caller starts
// their factory.
func New(ctx context.Context, client kubernetes.Interface, services coreinformers.ServiceInformer,
	nodes coreinformers.NodeInformer, opts Options) (*Controller, error) {
	c := &Controller{
		client:     client,
		svcLister:  services.Lister(),
		nodeLister: nodes.Lister(),
		synced:     []cache.InformerSynced{services.Informer().HasSynced, nodes.Informer().HasSynced},
		queue:      controllerutil.NewQueue(Name),
		workers:    opts.Workers,
		log:        opts.Logger,
		recorder:   opts.Recorder,
	}
	if len(opts.Pool) > 0 || len(opts.Ranges) > 0 {
		p, err := newPool(opts.Pool, opts.Ranges)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Name, err)
		}
		c.pool = p
	}
	if c.workers <= 0 {
		c.workers = 2
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.recorder == nil {
		c.recorder = controllerutil.NewRecorder(ctx, client, Name)
	}
	if _, err := services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueService,
		UpdateFunc: func(_, cur any) { c.enqueueService(cur) },
		DeleteFunc: c.enqueueService,
	}); err != nil {
		return nil, err
	}
	if c.pool == nil {
		if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { c.enqueueLoadBalancers() },
			UpdateFunc: func(old, cur any) {
				o, ok1 := old.(*corev1.Node)
				n, ok2 := cur.(*corev1.Node)
				if !ok1 || !ok2 || nodeKey(o) != nodeKey(n) {
					c.enqueueLoadBalancers()
				}
			},
			DeleteFunc: func(any) { c.enqueueLoadBalancers() },
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Start runs the controller until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		c.queue.ShutDown()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", Name)
	}
	if err := c.rebuild(); err != nil {
		c.queue.ShutDown()
		return err
	}
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, c.workers, c.sync, c.synced...)
}

// rebuild takes back, in pool mode, the addresses the Services' status
// shows, oldest Service first: if two claim one address, the younger is
// given another.
func (c *Controller) rebuild() error {
	if c.pool == nil {
		return nil
	}
	svcs, err := c.svcLister.List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(svcs, func(i, j int) bool {
		a, b := svcs[i], svcs[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	n := 0
	for _, s := range svcs {
		if !wantsLoadBalancer(s) {
			continue
		}
		for _, ing := range s.Status.LoadBalancer.Ingress {
			if ip, err := netip.ParseAddr(ing.IP); err == nil && c.pool.assign(s.Namespace+"/"+s.Name, ip) {
				n++
				break
			}
		}
	}
	c.log.Info("rebuilt load balancer address allocations", "services", len(svcs), "allocated", n)
	return nil
}

func (c *Controller) enqueueService(obj any) {
	if key := controllerutil.KeyOf(obj); key != "" {
		c.queue.Add(key)
	}
}

// enqueueLoadBalancers queues every Service this controller serves.
func (c *Controller) enqueueLoadBalancers() {
	svcs, err := c.svcLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if wantsLoadBalancer(s) {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// wantsLoadBalancer reports whether the Service is this controller's to
// serve.
func wantsLoadBalancer(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil
}

// ingressOf is the status for addrs: one VIP-mode entry each.
func ingressOf(addrs []netip.Addr) []corev1.LoadBalancerIngress {
	if len(addrs) == 0 {
		return nil
	}
	out := make([]corev1.LoadBalancerIngress, 0, len(addrs))
	for _, a := range addrs {
		vip := corev1.LoadBalancerIPModeVIP
		out = append(out, corev1.LoadBalancerIngress{IP: a.String(), IPMode: &vip})
	}
	return out
}

// sameIngress compares what this controller sets: addresses and modes.
func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname && len(x.Ports) == len(y.Ports) &&
			(x.IPMode == nil) == (y.IPMode == nil) && (x.IPMode == nil || *x.IPMode == *y.IPMode)
	})
}
