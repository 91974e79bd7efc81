package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// RouteProtocol marks the kernel routes skiff owns (rtm_protocol, shown by
// `ip route` as "proto 90"). Nothing else on a host uses it, so the routes
// controller and CleanupRoutes touch exactly these and leave every other
// route alone.
const RouteProtocol netlink.RouteProtocol = 0x5a

// RoutesName is the routes controller's name in logs and queue metrics.
const RoutesName = "host-gw-routes"

// DefaultRoutesResync is how often the routes are reconciled even without
// a Node event, which repairs routes the kernel dropped (an interface that
// went down and up takes its routes with it).
const DefaultRoutesResync = time.Minute

// routesKey is the one queue key: every sync reconciles all routes.
const routesKey = "routes"

// RoutesOptions configure a Routes controller.
type RoutesOptions struct {
	// NodeName is this node; it gets no route to its own pod CIDR (the
	// CNI bridge has it).
	NodeName string
	// NodeIP is this node's InternalIP; a peer claiming the same address
	// is skipped. Optional.
	NodeIP net.IP
	// Handle is the network namespace to program; nil means the calling
	// process's namespace.
	Handle *netlink.Handle
	// ResyncPeriod; default DefaultRoutesResync.
	ResyncPeriod time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Routes keeps this node's host-gw routes: one kernel route per other
// node, `<node podCIDR> via <node InternalIP>`, for each IP family the
// node has both. It is level-based: every sync computes the wanted routes
// from the Node lister and makes the kernel's routes marked RouteProtocol
// match them, so the first sync also removes stale routes left by an
// earlier run. A peer whose IP is not on a directly connected subnet is
// skipped (host-gw needs one L2 segment), as is a pod CIDR someone else
// already routes.
type Routes struct {
	self   string
	selfIP net.IP
	h      *netlink.Handle
	lister corelisters.NodeLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
	resync time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	skipped map[string]string // "node dst" -> reason last logged
}

// NewRoutes returns a routes controller fed by nodeInformer. The caller
// starts the informer factory.
func NewRoutes(nodeInformer coreinformers.NodeInformer, opts RoutesOptions) (*Routes, error) {
	if opts.NodeName == "" {
		return nil, errors.New("routes: no node name")
	}
	r := &Routes{
		self:    opts.NodeName,
		selfIP:  opts.NodeIP,
		h:       opts.Handle,
		lister:  nodeInformer.Lister(),
		synced:  nodeInformer.Informer().HasSynced,
		queue:   controllerutil.NewQueue(RoutesName),
		resync:  opts.ResyncPeriod,
		log:     opts.Logger,
		skipped: map[string]string{},
	}
	if r.h == nil {
		r.h = &netlink.Handle{} // the process's namespace, as netlink's package functions use
	}
	if r.resync <= 0 {
		r.resync = DefaultRoutesResync
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("controller", RoutesName)
	enqueue := func(any) { r.queue.Add(routesKey) }
	if _, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := cur.(*corev1.Node)
			if !ok1 || !ok2 || !slices.Equal(peerRoutes(r.self, []*corev1.Node{o}), peerRoutes(r.self, []*corev1.Node{n})) {
				r.queue.Add(routesKey)
			}
		},
		DeleteFunc: enqueue,
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// Start reconciles the routes until ctx is done. The routes stay when it
// returns (pods keep their cross-node traffic across an agent restart);
// CleanupRoutes removes them.
func (r *Routes) Start(ctx context.Context) error {
	r.queue.Add(routesKey) // a cluster with no other node still drops stale routes
	go func() {
		t := time.NewTicker(r.resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.queue.Add(routesKey)
			}
		}
	}()
	return controllerutil.RunWorkers(ctx, r.log, RoutesName, r.queue, 1, func(context.Context, string) error {
		return r.Sync()
	}, r.synced)
}

// Sync makes the kernel's owned routes match the cached nodes once.
func (r *Routes) Sync() error {
	nodes, err := r.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	want := peerRoutes(r.self, nodes)
	all, err := listRoutes(r.h, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return err
	}
	owned := map[netip.Prefix]netlink.Route{}
	foreign := map[netip.Prefix]bool{}
	for _, rt := range all {
		dst, ok := prefixOf(rt.Dst)
		if !ok {
			continue
		}
		if rt.Protocol == RouteProtocol {
			owned[dst] = rt
		} else {
			foreign[dst] = true
		}
	}

	var errs []error
	keep := map[netip.Prefix]bool{}
	for _, p := range want {
		if reason := r.check(p, foreign); reason != "" {
			r.skip(p, reason)
			continue
		}
		link, reason := r.nextHop(p.gw)
		if reason != "" {
			r.skip(p, reason)
			continue
		}
		r.unskip(p)
		keep[p.dst] = true
		route := &netlink.Route{
			Dst:       prefixNet(p.dst),
			Gw:        p.gw.AsSlice(),
			LinkIndex: link,
			Protocol:  RouteProtocol,
			Table:     unix.RT_TABLE_MAIN,
		}
		if cur, ok := owned[p.dst]; ok && cur.Gw.Equal(route.Gw) && cur.LinkIndex == link {
			continue
		}
		if err := r.h.RouteReplace(route); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s (node %s): %w", p.dst, p.gw, p.node, err))
			continue
		}
		r.log.Info("route to node's pods set", "node", p.node, "podCIDR", p.dst.String(), "via", p.gw.String())
	}
	for dst, rt := range owned {
		if keep[dst] {
			continue
		}
		if err := r.h.RouteDel(&rt); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", dst, err))
			continue
		}
		r.log.Info("stale route removed", "podCIDR", dst.String(), "via", rt.Gw.String())
	}
	r.forgetSkipped(want)
	return errors.Join(errs...)
}

// check is why p cannot be routed without looking at the links, or "".
func (r *Routes) check(p peerRoute, foreign map[netip.Prefix]bool) string {
	if ip, ok := netip.AddrFromSlice(r.selfIP); ok && ip.Unmap() == p.gw {
		return "the node has this node's IP"
	}
	if foreign[p.dst] {
		return "another route for the pod CIDR exists (not skiff's)"
	}
	return ""
}

// nextHop is the link through which gw is directly reachable, or why it
// is not: host-gw needs the peer on a connected subnet.
func (r *Routes) nextHop(gw netip.Addr) (int, string) {
	got, err := r.h.RouteGet(gw.AsSlice())
	switch {
	case err != nil:
		return 0, fmt.Sprintf("node IP unreachable: %v", err)
	case len(got) == 0:
		return 0, "node IP unreachable: no route"
	case got[0].Type == unix.RTN_LOCAL:
		return 0, "node IP is an address of this host"
	case got[0].Gw != nil:
		return 0, fmt.Sprintf("node IP is not on a connected subnet (reached via %s)", got[0].Gw)
	}
	return got[0].LinkIndex, ""
}

// skip logs, once per reason, that p is not routed.
func (r *Routes) skip(p peerRoute, reason string) {
	k := p.node + " " + p.dst.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.skipped[k] == reason {
		return
	}
	r.skipped[k] = reason
	r.log.Warn("no route to node's pods", "node", p.node, "podCIDR", p.dst.String(), "nodeIP", p.gw.String(), "reason", reason)
}

func (r *Routes) unskip(p peerRoute) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.skipped, p.node+" "+p.dst.String())
}

// forgetSkipped drops log-once state of routes no longer wanted.
func (r *Routes) forgetSkipped(want []peerRoute) {
	live := map[string]bool{}
	for _, p := range want {
		live[p.node+" "+p.dst.String()] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.skipped {
		if !live[k] {
			delete(r.skipped, k)
		}
	}
}

// CleanupRoutes removes every route skiff owns (RouteProtocol, main
// table) from h's namespace; nil means the process's own.
func CleanupRoutes(h *netlink.Handle) error {
	if h == nil {
		h = &netlink.Handle{}
	}
	owned, err := listRoutes(h, &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return err
	}
	var errs []error
	for _, rt := range owned {
		if err := h.RouteDel(&rt); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", rt.Dst, err))
		}
	}
	return errors.Join(errs...)
}

// listRoutes dumps routes of both families, retrying a dump the kernel
// interrupted (the table changed under it).
func listRoutes(h *netlink.Handle, filter *netlink.Route, mask uint64) ([]netlink.Route, error) {
	var err error
	for range 5 {
		var rts []netlink.Route
		rts, err = h.RouteListFiltered(netlink.FAMILY_ALL, filter, mask)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return rts, err
		}
	}
	return nil, fmt.Errorf("list routes: %w", err)
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones).Masked(), true
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
