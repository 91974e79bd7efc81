// Package nodelifecycle is skiff's node lifecycle controller, with the
// taint-based eviction that upstream runs as its own controller. It owns:
//
//   - node health: every NodeMonitorPeriod it checks each node's heartbeat
//     (its Lease in kube-node-lease and its Ready condition) and, when none
//     was seen for NodeMonitorGracePeriod on the controller's own clock,
//     sets the Ready and pressure conditions Unknown and marks the node's
//     pods not ready;
//   - condition taints: NoSchedule taints mirroring the node's conditions
//     and spec.unschedulable (taint-nodes-by-condition), and the
//     not-ready/unreachable NoExecute taints, added per zone at a limited
//     rate and not at all when every zone is down (the controller, not the
//     nodes, is then the likely culprit);
//   - taint-based eviction: deleting pods that do not tolerate a node's
//     NoExecute taints, at once or when their tolerationSeconds run out.
//
// It does not delete pods of deleted nodes: the pod garbage collector
// (internal/controller/podgc) does. It writes only the taints it manages;
// taints set by anyone else are left alone.
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	coordinformers "k8s.io/client-go/informers/coordination/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Names of the two halves in logs, events and queue metrics; the event
// sources are upstream's, so `kubectl get events` reads the same.
const (
	Name              = "node-controller"
	TaintEvictionName = "taint-eviction-controller"
)

// Controller is the node lifecycle and taint eviction controller.
type Controller struct {
	client      kubernetes.Interface
	nodeLister  corelisters.NodeLister
	podLister   corelisters.PodLister
	podIndexer  cache.Indexer
	leaseLister coordlisters.LeaseLister
	synced      []cache.InformerSynced
	opts        Options
	log         *slog.Logger
	// recorder writes as the node controller, evictionRecorder as the
	// taint eviction controller.
	recorder         record.EventRecorder
	evictionRecorder record.EventRecorder
	now              func() time.Time

	// taintQueue holds node names whose NoSchedule condition taints may
	// be out of date.
	taintQueue workqueue.TypedRateLimitingInterface[string]
	// evictionQueue holds namespace/name keys of pods whose eviction
	// must be decided; a pod to go later is added back with AddAfter.
	evictionQueue workqueue.TypedRateLimitingInterface[string]

	// Owned by the monitor loop alone (Start's goroutine).
	health     map[string]*nodeHealth
	zoneStates map[string]zoneState
	tainters   map[string]*zoneTainter

	// evictions is shared by the eviction workers and the informer
	// handlers.
	evictions evictionState
}

// podNodeIndex indexes pods by spec.nodeName. The name is the package's
// own, so it cannot collide with another controller's index on a shared
// informer.
const podNodeIndex = "nodelifecycle/spec.nodeName"

// New returns a controller fed by the given informers; leases are read in
// kube-node-lease only. The caller starts the informer factory; Start
// waits for the caches.
func New(ctx context.Context, client kubernetes.Interface, nodeInformer coreinformers.NodeInformer,
	podInformer coreinformers.PodInformer, leaseInformer coordinformers.LeaseInformer, opts Options) (*Controller, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	c := &Controller{
		client:      client,
		nodeLister:  nodeInformer.Lister(),
		podLister:   podInformer.Lister(),
		podIndexer:  podInformer.Informer().GetIndexer(),
		leaseLister: leaseInformer.Lister(),
		synced: []cache.InformerSynced{nodeInformer.Informer().HasSynced,
			podInformer.Informer().HasSynced, leaseInformer.Informer().HasSynced},
		opts:          opts,
		log:           opts.Logger,
		now:           time.Now,
		taintQueue:    controllerutil.NewQueue(Name + "-taint"),
		evictionQueue: controllerutil.NewQueue(TaintEvictionName),
		health:        map[string]*nodeHealth{},
		zoneStates:    map[string]zoneState{},
		tainters:      map[string]*zoneTainter{},
		evictions:     newEvictionState(),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	c.recorder, c.evictionRecorder = opts.Recorder, opts.Recorder
	if opts.Recorder == nil {
		c.recorder = controllerutil.NewRecorder(ctx, client, Name)
		c.evictionRecorder = controllerutil.NewRecorder(ctx, client, TaintEvictionName)
	}
	// A second controller of this package on the same informer finds
	// the index already there.
	if _, ok := c.podIndexer.GetIndexers()[podNodeIndex]; !ok {
		if err := podInformer.Informer().AddIndexers(cache.Indexers{podNodeIndex: indexPodByNode}); err != nil {
			return nil, fmt.Errorf("%s: pod index: %w", Name, err)
		}
	}
	if _, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addNode,
		UpdateFunc: c.updateNode,
		DeleteFunc: c.deleteNode,
	}); err != nil {
		return nil, err
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func indexPodByNode(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{p.Spec.NodeName}, nil
}

// Start runs the controller until ctx is done: the node monitor, the
// NoSchedule taint worker and the eviction workers.
func (c *Controller) Start(ctx context.Context) error {
	c.log.Info("starting controller", "monitorPeriod", c.opts.NodeMonitorPeriod,
		"gracePeriod", c.opts.NodeMonitorGracePeriod, "evictionRate", c.opts.NodeEvictionRate)
	defer c.log.Info("stopped controller")
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		c.taintQueue.ShutDown()
		c.evictionQueue.ShutDown()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", Name)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(3)
	go func() {
		defer wg.Done()
		errs[0] = controllerutil.RunWorkers(ctx, c.log, Name+"-taint", c.taintQueue, 1, c.syncNoScheduleTaints)
	}()
	go func() {
		defer wg.Done()
		errs[1] = controllerutil.RunWorkers(ctx, c.log.With("controller", TaintEvictionName), TaintEvictionName,
			c.evictionQueue, c.opts.EvictionWorkers, c.syncEviction)
	}()
	go func() {
		defer wg.Done()
		c.runMonitor(ctx)
	}()
	wg.Wait()
	return errors.Join(errs...)
}

// runMonitor checks node health every NodeMonitorPeriod and works off the
// zones' NoExecute tainting queues every evictionPassPeriod, in one
// goroutine, so the health and zone state need no lock.
func (c *Controller) runMonitor(ctx context.Context) {
	monitor := time.NewTicker(c.opts.NodeMonitorPeriod)
	defer monitor.Stop()
	taint := time.NewTicker(evictionPassPeriod)
	defer taint.Stop()
	c.monitorNodes(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-monitor.C:
			c.monitorNodes(ctx)
		case <-taint.C:
			c.runTaintingPass(ctx)
		}
	}
}

// evictionPassPeriod is how often queued NoExecute taints are tried
// against their zone's rate limit (upstream's NodeEvictionPeriod).
const evictionPassPeriod = 100 * time.Millisecond
