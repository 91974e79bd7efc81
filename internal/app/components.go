package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/endpointslice"
	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
	"github.com/skiff-sh/skiff/internal/controller/nodeipam"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-sh/skiff/internal/controller/podgc"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/controller/rootcacert"
	"github.com/skiff-sh/skiff/internal/controller/serviceaccount"
	"github.com/skiff-sh/skiff/internal/controller/servicelb"
	"github.com/skiff-sh/skiff/internal/scheduler"
)

// Lease names for leader election, as upstream names them.
const (
	controllerManagerLease = "kube-controller-manager"
	schedulerLease         = "kube-scheduler"
)

// ComponentOptions configure the controller manager and the scheduler.
type ComponentOptions struct {
	// ClusterCIDR is where node pod CIDRs come from (controller manager).
	ClusterCIDR *net.IPNet
	// LeaderElection timings; zero values take upstream's defaults.
	LeaderElection LeaderElection
	// NodeMonitorGracePeriod: how long a node may go without a heartbeat
	// before it is marked Unknown and tainted (0: upstream's 40s).
	NodeMonitorGracePeriod time.Duration
	// LoadBalancerPool: addresses for LoadBalancer Services, one each.
	// Empty: a LoadBalancer Service's ingress is its nodes' addresses.
	LoadBalancerPool []netip.Prefix
	// RootCA is the bundle published as kube-root-ca.crt in every
	// namespace (default: the client config's CA).
	RootCA []byte
	Log    *slog.Logger

	// shared, set by a server running both components, is the informer
	// cache they share; nil: each term builds its own.
	shared *sharedInformers
}

// LeaderElection are the timings of the component Leases, named as
// upstream's --leader-elect-* flags.
type LeaderElection struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

func (le LeaderElection) withDefaults() LeaderElection {
	if le.LeaseDuration == 0 {
		le.LeaseDuration = 15 * time.Second
	}
	if le.RenewDeadline == 0 {
		le.RenewDeadline = min(10*time.Second, le.LeaseDuration*2/3)
	}
	if le.RetryPeriod == 0 {
		le.RetryPeriod = min(2*time.Second, le.RenewDeadline/4)
	}
	return le
}

// runLeaderElected runs fn while this process holds the Lease name in
// kube-system, and campaigns again after losing it, until ctx is done.
// Several servers can therefore run the same component safely: one acts,
// the others wait.
func runLeaderElected(ctx context.Context, client kubernetes.Interface, name string, le LeaderElection, log *slog.Logger, fn func(context.Context) error) error {
	le = le.withDefaults()
	host, _ := os.Hostname()
	id := host + "_" + string(uuid.NewUUID())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	for ctx.Err() == nil {
		// The callback runs on its own goroutine and may outlive RunOrDie
		// by a moment: its result comes back on a channel, and a term that
		// started leading waits for fn to return (its ctx is cancelled
		// when leadership ends) before campaigning again.
		result := make(chan error, 1)
		var started atomic.Bool
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   le.LeaseDuration,
			RenewDeadline:   le.RenewDeadline,
			RetryPeriod:     le.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					started.Store(true)
					log.Info("became leader", "lease", "kube-system/"+name, "identity", id)
					result <- fn(ctx)
				},
				OnStoppedLeading: func() { log.Info("stopped leading", "lease", "kube-system/"+name) },
			},
		})
		if !started.Load() {
			continue
		}
		if runErr := <-result; runErr != nil && !errors.Is(runErr, context.Canceled) {
			log.Error("component failed", "component", name, "err", runErr)
		}
	}
	return nil
}

// runControllerManager runs the controllers on one shared informer
// factory until ctx is done. clusterCIDR is where node pod CIDRs come from.
func runControllerManager(ctx context.Context, client kubernetes.Interface, meta metadata.Interface, opts ComponentOptions, log *slog.Logger) error {
	clusterCIDR := opts.ClusterCIDR
	var factory informers.SharedInformerFactory
	if opts.shared != nil {
		factory = opts.shared.forTerm()
	} else {
		factory = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(controllerutil.TrimManagedFields))
	}
	ipam, err := nodeipam.New(ctx, client, factory.Core().V1().Nodes(), nodeipam.Options{ClusterCIDR: clusterCIDR, Logger: log.With("controller", "nodeipam")})
	if err != nil {
		return fmt.Errorf("node IPAM controller: %w", err)
	}
	pgc, err := podgc.New(ctx, client, factory.Core().V1().Pods(), factory.Core().V1().Nodes(), podgc.Options{Logger: log.With("controller", "podgc")})
	if err != nil {
		return fmt.Errorf("pod GC controller: %w", err)
	}
	ns, err := namespace.New(ctx, client, meta, factory.Core().V1().Namespaces(), namespace.Options{Logger: log.With("controller", "namespace")})
	if err != nil {
		return fmt.Errorf("namespace controller: %w", err)
	}
	sa, err := serviceaccount.New(ctx, client, factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts(),
		serviceaccount.Options{Logger: log.With("controller", "serviceaccount")})
	if err != nil {
		return fmt.Errorf("serviceaccount controller: %w", err)
	}
	run := []func(context.Context) error{}
	if len(opts.RootCA) > 0 {
		rootCA, err := rootcacert.New(ctx, client, opts.RootCA, factory.Core().V1().Namespaces(),
			factory.Core().V1().ConfigMaps(), rootcacert.Options{Logger: log.With("controller", "root-ca-cert-publisher")})
		if err != nil {
			return fmt.Errorf("root CA cert publisher: %w", err)
		}
		run = append(run, rootCA.Start)
	}
	rs, err := replicaset.New(ctx, client, factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), replicaset.Options{})
	if err != nil {
		return fmt.Errorf("replicaset controller: %w", err)
	}
	dep, err := deployment.New(ctx, client, factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(),
		factory.Core().V1().Pods(), deployment.Options{})
	if err != nil {
		return fmt.Errorf("deployment controller: %w", err)
	}
	eps, err := endpointslice.New(ctx, client, factory.Core().V1().Services(), factory.Core().V1().Pods(),
		factory.Discovery().V1().EndpointSlices(), endpointslice.Options{Logger: log.With("controller", "endpointslice")})
	if err != nil {
		return fmt.Errorf("endpointslice controller: %w", err)
	}
	gc, err := garbagecollector.New(ctx, client, meta, collectedResources, garbagecollector.Options{
		Logger:        log.With("controller", "garbagecollector"),
		ListerWatcher: opts.shared.metadataListerWatcher,
	})
	if err != nil {
		return fmt.Errorf("garbage collector: %w", err)
	}
	nlc, err := nodelifecycle.New(ctx, client, factory.Core().V1().Nodes(), factory.Core().V1().Pods(),
		factory.Coordination().V1().Leases(), nodelifecycle.Options{Logger: log, NodeMonitorGracePeriod: opts.NodeMonitorGracePeriod})
	if err != nil {
		return fmt.Errorf("node lifecycle controller: %w", err)
	}
	slb, err := servicelb.New(ctx, client, factory.Core().V1().Services(), factory.Core().V1().Nodes(),
		servicelb.Options{Pool: opts.LoadBalancerPool, Logger: log.With("controller", "servicelb")})
	if err != nil {
		return fmt.Errorf("service load balancer controller: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	return runAll(ctx, append(run, rs.Start, dep.Start, ns.Start, sa.Start, eps.Start, gc.Start, ipam.Start, pgc.Start, nlc.Start, slb.Start)...)
}

// collectedResources are the resources whose objects the garbage
// collector deletes when their owners are gone. They are also the owners
// it knows from its cache: an owner of another resource is looked up with
// a GET each time a dependent changes, so the owners of frequently
// updated dependents must be here (Nodes own their kubelets' Leases,
// renewed every 10 s).
var collectedResources = []schema.GroupVersionResource{
	{Version: "v1", Resource: "nodes"},
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "endpoints"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
	{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"},
}

// runScheduler runs the default scheduler until ctx is done.
func runScheduler(ctx context.Context, client kubernetes.Interface, opts ComponentOptions, log *slog.Logger) error {
	cfg := scheduler.Config{Logger: log}
	if opts.shared != nil {
		cfg.Informers = opts.shared.forTerm()
	}
	return scheduler.New(client, cfg).Start(ctx)
}

// runAll runs each function until ctx is done or one fails; a failure
// stops the others.
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(fns))
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ComponentClient builds a client for an in-process or standalone
// component: protobuf bodies, generous rate limits (the components are
// trusted, and upstream's default 50 QPS is what caps its scheduler).
func ComponentClient(cfg *rest.Config, userAgent string) (kubernetes.Interface, error) {
	c := componentConfig(cfg, userAgent)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	return kubernetes.NewForConfig(c)
}

func componentConfig(cfg *rest.Config, userAgent string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 2000, 4000
	c.UserAgent = userAgent
	return c
}

// withoutGzip is cfg asking for no gzipped responses, as upstream's
// scheduler and controller manager ask: they sit beside the API server,
// where compression costs both more CPU than the bytes it saves.
func withoutGzip(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.DisableCompression = true
	return c
}

// RunControllerManager runs the controllers under leader election (for
// `skiff controller-manager` and the in-process copy).
func RunControllerManager(ctx context.Context, cfg *rest.Config, opts ComponentOptions) error {
	log := opts.logger()
	cfg = withoutGzip(cfg)
	client, err := ComponentClient(cfg, "skiff-controller-manager")
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(componentConfig(cfg, "skiff-controller-manager"))
	if err != nil {
		return err
	}
	if len(opts.RootCA) == 0 {
		opts.RootCA = cfg.CAData
		if len(opts.RootCA) == 0 && cfg.CAFile != "" {
			if opts.RootCA, err = os.ReadFile(cfg.CAFile); err != nil {
				return fmt.Errorf("root CA: %w", err)
			}
		}
	}
	return runLeaderElected(ctx, client, controllerManagerLease, opts.LeaderElection, log, func(ctx context.Context) error {
		return runControllerManager(ctx, client, meta, opts, log)
	})
}

// RunScheduler runs the scheduler under leader election.
func RunScheduler(ctx context.Context, cfg *rest.Config, opts ComponentOptions) error {
	log := opts.logger()
	cfg = withoutGzip(cfg)
	client, err := ComponentClient(cfg, "skiff-scheduler")
	if err != nil {
		return err
	}
	return runLeaderElected(ctx, client, schedulerLease, opts.LeaderElection, log, func(ctx context.Context) error {
		return runScheduler(ctx, client, opts, log)
	})
}

func (o ComponentOptions) logger() *slog.Logger {
	if o.Log == nil {
		return slog.Default()
	}
	return o.Log
}
