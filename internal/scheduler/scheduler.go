// Package scheduler is skiff's default scheduler, a client-go component:
// it watches pods, nodes and namespaces through shared informers, queues
// the pending pods addressed to it (spec.schedulerName, empty
// spec.nodeName), retries unschedulable ones on the cluster events that
// may help them (handlers.go), decides with the pure core (package
// framework, plugins from package plugins) against a node cache that
// counts assumed pods, and binds through the pods/binding subresource,
// recording Scheduled / FailedScheduling events and the PodScheduled
// condition. A pod that fits nowhere may preempt
// pods of lower priority (preemption.go decides, preempt.go acts) and
// waits, nominated to the node, until they are gone.
//
// It owns the scheduling queue, the node cache, the binder and
// preemption. It does not own the placement rules (framework, plugins),
// leader election or the process wiring (internal/app), and it never
// reaches past client-go.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins"
)

// DefaultSchedulerName is the spec.schedulerName this scheduler serves
// unless configured otherwise.
const DefaultSchedulerName = "default-scheduler"

// Config configures a Scheduler. Zero values mean the defaults.
type Config struct {
	// SchedulerName selects the pods to schedule (default-scheduler); it
	// is also the events' reportingController.
	SchedulerName string
	// Framework is the profile deciding placements (plugins.Default()).
	Framework *framework.Framework
	// InitialBackoff (1s) doubles per failed attempt up to MaxBackoff (10s).
	InitialBackoff, MaxBackoff time.Duration
	// MaxUnschedulable is how long an unschedulable pod waits for a
	// cluster event before it is retried anyway (5m).
	MaxUnschedulable time.Duration
	// DisablePreemption turns off evicting lower-priority pods for pods
	// that fit nowhere (upstream's DefaultPreemption, on by default).
	DisablePreemption bool
	// Logger (slog.Default()).
	Logger *slog.Logger
	// Informers, if set, are where the scheduler's pod, node and namespace
	// informers come from (informers shared with other components in the
	// process); Start starts it and Shuts it down on return. Default: a
	// factory of the scheduler's own over its client.
	Informers informers.SharedInformerFactory
}

// Validate checks the config after defaults are applied.
func (c *Config) Validate() error {
	var errs []error
	if c.SchedulerName == "" {
		errs = append(errs, errors.New("scheduler name is empty"))
	}
	if c.InitialBackoff <= 0 || c.MaxBackoff < c.InitialBackoff {
		errs = append(errs, fmt.Errorf("backoff %v..%v: need 0 < initial <= max", c.InitialBackoff, c.MaxBackoff))
	}
	if c.MaxUnschedulable <= 0 {
		errs = append(errs, fmt.Errorf("max unschedulable duration %v must be positive", c.MaxUnschedulable))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	if c.SchedulerName == "" {
		c.SchedulerName = DefaultSchedulerName
	}
	if c.Framework == nil {
		c.Framework = plugins.Default()
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.MaxUnschedulable == 0 {
		c.MaxUnschedulable = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Scheduler places pending pods on nodes. Create it with New and run it
// with Start.
type Scheduler struct {
	client   kubernetes.Interface
	cfg      Config
	log      *slog.Logger
	queue    *queue
	cache    *nodeCache
	pods     corelisters.PodLister
	recorder events.EventRecorder
	// nextStart is where the next decision starts visiting nodes, and
	// snapshot the cluster state the cache keeps up to date for each
	// decision (only the scheduling goroutine uses them).
	nextStart int
	snapshot  *framework.Snapshot

	// nominator holds the pods waiting for their preemption victims to
	// go; preemptOffset is where the next preemption starts its dry run
	// (scheduling goroutine only).
	nominator     *nominator
	preemptOffset int

	// binds queues decisions for the binders (binder.go).
	binds chan bindRequest
}

// New returns a scheduler using client; configuration errors are reported
// by Start.
func New(client kubernetes.Interface, cfg Config) *Scheduler {
	cfg.setDefaults()
	// Nothing here reads the per-node score breakdown.
	f := *cfg.Framework
	f.OmitScores = true
	cfg.Framework = &f
	return &Scheduler{
		client:    client,
		cfg:       cfg,
		log:       cfg.Logger.With("component", "scheduler"),
		queue:     newQueue(time.Now, cfg.InitialBackoff, cfg.MaxBackoff, cfg.MaxUnschedulable),
		cache:     newNodeCache(),
		snapshot:  &framework.Snapshot{},
		nominator: newNominator(),
		binds:     make(chan bindRequest, bindWorkers),
	}
}

// Start runs the scheduler until ctx is done and then returns nil; it
// returns an error only if it cannot start.
func (s *Scheduler) Start(ctx context.Context) error {
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("scheduler config: %w", err)
	}
	broadcaster := events.NewBroadcaster(newBoundedSink(&events.EventSinkImpl{Interface: s.client.EventsV1()}, eventWorkers))
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return fmt.Errorf("event broadcaster: %w", err)
	}
	defer broadcaster.Shutdown()
	s.recorder = broadcaster.NewRecorder(scheme.Scheme, s.cfg.SchedulerName)

	// managedFields are trimmed, as the controller manager does: the
	// scheduler reads none, and they are much of a pod's metadata.
	factory := s.cfg.Informers
	if factory == nil {
		factory = informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithTransform(controllerutil.TrimManagedFields))
	}
	podInformer := factory.Core().V1().Pods()
	nodeInformer := factory.Core().V1().Nodes()
	nsInformer := factory.Core().V1().Namespaces()
	s.pods = podInformer.Lister()
	if _, err := podInformer.Informer().AddEventHandler(s.podHandler()); err != nil {
		return fmt.Errorf("pod handler: %w", err)
	}
	if _, err := nodeInformer.Informer().AddEventHandler(s.nodeHandler()); err != nil {
		return fmt.Errorf("node handler: %w", err)
	}
	if _, err := nsInformer.Informer().AddEventHandler(s.namespaceHandler()); err != nil {
		return fmt.Errorf("namespace handler: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced, nodeInformer.Informer().HasSynced,
		nsInformer.Informer().HasSynced) {
		return nil // ctx ended first
	}
	s.log.Info("scheduler started", "schedulerName", s.cfg.SchedulerName)

	go s.flushLoop(ctx)
	go func() {
		<-ctx.Done()
		s.queue.Close()
	}()
	binders := make(chan struct{})
	go func() {
		defer close(binders)
		s.runBinders(ctx)
	}()
	for s.scheduleOne(ctx) {
	}
	<-binders
	return nil
}

// flushLoop moves backed-off and long-parked pods back to active.
func (s *Scheduler) flushLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.queue.Flush()
		}
	}
}
