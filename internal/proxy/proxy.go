package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/knftables"
)

// Config configures a Proxy.
type Config struct {
	// Client reaches the API server. Needed by Run, not by Cleanup.
	Client kubernetes.Interface
	// NodeName is this node's Node name: endpoints with this nodeName
	// are local, and the Node's zone label drives topology hints.
	NodeName string
	// NodeIPs serve NodePorts. Empty: the Node's InternalIP and
	// ExternalIP addresses.
	NodeIPs []net.IP
	// ClusterCIDR is the pod network; connections to cluster IPs from
	// outside it are masqueraded. Nil: they are not (upstream's
	// behaviour without --cluster-cidr).
	ClusterCIDR *net.IPNet
	// MasqueradeAll masquerades every connection to a cluster IP.
	MasqueradeAll bool
	// NodePortAddresses overrides NodeIPs for NodePorts.
	NodePortAddresses []net.IP
	// MinSyncPeriod is the least time between two syncs; changes within
	// it are batched into one (default 1s, like kube-proxy).
	MinSyncPeriod time.Duration
	// HealthCheckAddress is the host address health-check node ports
	// listen on ("" = all addresses).
	HealthCheckAddress string
	Logger             *slog.Logger
	// NFT is the table's nftables interface. Nil: the real nft on this
	// host, table `ip skiff-proxy`.
	NFT knftables.Interface
}

// Validate fills defaults and checks what Run needs.
func (c *Config) Validate() error {
	if c.MinSyncPeriod < 0 {
		return fmt.Errorf("proxy: negative MinSyncPeriod %v", c.MinSyncPeriod)
	}
	if c.MinSyncPeriod == 0 {
		c.MinSyncPeriod = time.Second
	}
	if c.ClusterCIDR != nil && c.ClusterCIDR.IP.To4() == nil {
		return fmt.Errorf("proxy: cluster CIDR %s is not IPv4", c.ClusterCIDR)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Proxy keeps this node's nftables table in step with the cluster's
// Services and EndpointSlices.
type Proxy struct {
	cfg     Config
	log     *slog.Logger
	nft     knftables.Interface
	backend *backend
	health  *healthServers
	trigger chan struct{}

	// conntrack deletes stale UDP flows; replaced in tests.
	conntrack func(map[netip.AddrPort][]netip.AddrPort) (int, error)

	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	nodes    corelisters.NodeLister

	mu      sync.Mutex
	lastUDP map[netip.AddrPort][]netip.AddrPort
}

// New makes a Proxy. It fails when no nftables is usable (no nft binary,
// no permission).
func New(cfg Config) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nft := cfg.NFT
	if nft == nil {
		var err error
		if nft, err = knftables.New(knftables.IPv4Family, TableName); err != nil {
			return nil, fmt.Errorf("proxy: nftables unavailable: %w", err)
		}
	}
	return &Proxy{
		cfg:       cfg,
		log:       cfg.Logger,
		nft:       nft,
		backend:   &backend{nft: nft},
		health:    newHealthServers(cfg.HealthCheckAddress, cfg.Logger),
		trigger:   make(chan struct{}, 1),
		conntrack: cleanUDPConntrack,
	}, nil
}

// Cleanup deletes the proxy's table (for `skiff agent --cleanup`).
// Deleting a table that is not there is not an error.
func (p *Proxy) Cleanup() error {
	p.health.closeAll()
	if err := deleteTable(context.Background(), p.nft); err != nil {
		return fmt.Errorf("proxy: delete table %s: %w", TableName, err)
	}
	return nil
}

// informerSelector leaves out what kube-proxy leaves out: Services
// another proxy implements, and headless Services' slices.
const informerSelector = "!" + LabelServiceProxyName + ",!service.kubernetes.io/headless"

// Run watches Services, EndpointSlices and this Node, and syncs the table
// until ctx is done. The first sync, once the caches are filled, replaces
// the table whole. The table stays when Run returns, so Services keep
// working across a restart of the agent.
func (p *Proxy) Run(ctx context.Context) error {
	if p.cfg.Client == nil || p.cfg.NodeName == "" {
		return errors.New("proxy: Run needs Client and NodeName")
	}
	registerMetrics()
	factory := informers.NewSharedInformerFactoryWithOptions(p.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = informerSelector }))
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(p.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", p.cfg.NodeName).String()
		}))
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	nodeInf := nodeFactory.Core().V1().Nodes()
	p.services, p.slices, p.nodes = svcInf.Lister(), sliceInf.Lister(), nodeInf.Lister()

	onChange := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.queue() },
		UpdateFunc: func(any, any) { p.queue() },
		DeleteFunc: func(any) { p.queue() },
	}
	for _, inf := range []cache.SharedIndexInformer{svcInf.Informer(), sliceInf.Informer()} {
		if _, err := inf.AddEventHandler(onChange); err != nil {
			return err
		}
	}
	// Node status heartbeats change the object often; only its labels
	// (zone) and addresses matter here.
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { p.queue() },
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*corev1.Node), newObj.(*corev1.Node)
			if !maps.Equal(o.Labels, n.Labels) || fmt.Sprint(o.Status.Addresses) != fmt.Sprint(n.Status.Addresses) {
				p.queue()
			}
		},
		DeleteFunc: func(any) { p.queue() },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	defer func() {
		factory.Shutdown()
		nodeFactory.Shutdown()
	}()
	defer p.health.closeAll()
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced, nodeInf.Informer().HasSynced) {
		return nil // ctx done
	}
	p.log.Info("proxy caches synced; programming nftables", "table", "ip "+TableName)
	p.queue()
	p.loop(ctx)
	return nil
}

// queue asks for a sync; requests made while one is pending merge.
func (p *Proxy) queue() {
	select {
	case p.trigger <- struct{}{}:
	default:
	}
}

// loop syncs on demand, at most once per MinSyncPeriod, and retries
// failures with a backoff (a failure also makes the next sync full).
func (p *Proxy) loop(ctx context.Context) {
	var last time.Time
	backoff := p.cfg.MinSyncPeriod
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.trigger:
		case <-retry:
		}
		retry = nil
		if wait := p.cfg.MinSyncPeriod - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		if err := p.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Error("proxy sync failed; will retry with a full resync", "err", err, "retryIn", backoff)
			retry = time.After(backoff)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = p.cfg.MinSyncPeriod
	}
}

// sync computes the table from the caches and applies it.
func (p *Proxy) sync(ctx context.Context) error {
	in, err := p.input()
	if err != nil {
		return err
	}
	start := time.Now()
	rs := Compute(in)
	st, err := p.backend.apply(ctx, &rs)
	mode := "partial"
	if st.Full {
		mode = "full"
	}
	syncDuration.WithLabelValues(mode).Observe(time.Since(start).Seconds())
	if err != nil {
		syncsTotal.WithLabelValues(mode, "error").Inc()
		return err
	}
	syncsTotal.WithLabelValues(mode, "success").Inc()
	p.log.Debug("proxy synced", "mode", mode, "operations", st.Operations, "services", len(in.Services),
		"took", time.Since(start).Round(time.Microsecond))

	p.health.sync(rs.HealthChecks)
	p.mu.Lock()
	targets := udpTargets(p.lastUDP, rs.UDP)
	p.lastUDP = rs.UDP
	p.mu.Unlock()
	if targets != nil && p.conntrack != nil {
		if n, err := p.conntrack(targets); err != nil {
			p.log.Warn("deleting stale UDP conntrack entries", "err", err)
		} else if n > 0 {
			p.log.Info("deleted stale UDP conntrack entries", "count", n)
		}
	}
	// SCTP tracking shows up once nf_conntrack is loaded, which our own
	// nat chains cause: sync again to add the SCTP ports left out.
	if in.Options.NoSCTP && sctpSupported() {
		p.queue()
	}
	return nil
}

func (p *Proxy) input() (Input, error) {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return Input{}, err
	}
	eps, err := p.slices.List(labels.Everything())
	if err != nil {
		return Input{}, err
	}
	in := Input{
		Node:           Node{Name: p.cfg.NodeName, IPs: p.cfg.NodeIPs},
		Services:       svcs,
		EndpointSlices: eps,
		Options: Options{
			ClusterCIDR:       p.cfg.ClusterCIDR,
			MasqueradeAll:     p.cfg.MasqueradeAll,
			NodePortAddresses: p.cfg.NodePortAddresses,
			NoSCTP:            !sctpSupported(),
		},
	}
	if node, err := p.nodes.Get(p.cfg.NodeName); err == nil {
		in.Node.Labels = node.Labels
		if len(in.Node.IPs) == 0 {
			for _, a := range node.Status.Addresses {
				if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
					if ip := net.ParseIP(a.Address); ip != nil {
						in.Node.IPs = append(in.Node.IPs, ip)
					}
				}
			}
		}
	}
	return in, nil
}

// sctpSupported reports whether the kernel tracks SCTP connections (and
// so can NAT them).
func sctpSupported() bool {
	_, err := os.Stat("/proc/sys/net/netfilter/nf_conntrack_sctp_timeout_established")
	return err == nil
}
