// Package replicaset is skiff's ReplicaSet controller. It owns the pods
// that a ReplicaSet's selector matches and that carry (or are given) a
// controller owner reference to it: it adopts matching orphans, releases
// pods that stopped matching, creates and deletes pods until the active
// count equals spec.replicas, and writes the ReplicaSet's status. It does
// not schedule, run or garbage-collect pods; deleting a ReplicaSet's pods
// when the ReplicaSet is deleted is the garbage collector's job.
package replicaset

import (
	"context"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs, events and queue metrics.
const Name = "replicaset-controller"

// DefaultBurstReplicas caps how many pods one sync creates or deletes.
const DefaultBurstReplicas = 500

var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Recorder for events; default one writing through the client.
	Recorder record.EventRecorder
	// BurstReplicas caps creations/deletions per sync (DefaultBurstReplicas).
	BurstReplicas int
	// ExpectationsTimeout (controllerutil.DefaultExpectationsTimeout).
	ExpectationsTimeout time.Duration
	// Clock for availability and expectations; default the real clock.
	Clock clock.Clock
}

// Controller reconciles ReplicaSets with their pods.
type Controller struct {
	client       kubernetes.Interface
	rsLister     appslisters.ReplicaSetLister
	podIndexer   cache.Indexer // with controllerutil.ControllerUIDIndex
	synced       []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string]
	expectations *controllerutil.Expectations
	recorder     record.EventRecorder
	log          *slog.Logger
	clock        clock.Clock
	burst        int
}

// New returns a controller fed by the given informers. The caller starts
// the informer factory; Run waits for the caches.
func New(ctx context.Context, client kubernetes.Interface, rsInformer appsinformers.ReplicaSetInformer,
	podInformer coreinformers.PodInformer, opts Options) (*Controller, error) {
	c := &Controller{
		client:     client,
		rsLister:   rsInformer.Lister(),
		podIndexer: podInformer.Informer().GetIndexer(),
		synced:     []cache.InformerSynced{rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		queue:      controllerutil.NewQueue(Name),
		log:        opts.Logger,
		recorder:   opts.Recorder,
		clock:      opts.Clock,
		burst:      opts.BurstReplicas,
	}
	if err := controllerutil.AddControllerUIDIndexer(podInformer.Informer()); err != nil {
		return nil, err
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.burst <= 0 {
		c.burst = DefaultBurstReplicas
	}
	if c.recorder == nil {
		c.recorder = controllerutil.NewRecorder(ctx, client, Name)
	}
	c.expectations = controllerutil.NewExpectations(c.clock, opts.ExpectationsTimeout)
	if _, err := rsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.deleteReplicaSet,
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

// Run syncs ReplicaSets with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced...)
}

// Start runs the controller with 5 workers until ctx is done.
func (c *Controller) Start(ctx context.Context) error { return c.Run(ctx, 5) }

func (c *Controller) enqueue(obj any) {
	if key := controllerutil.KeyOf(obj); key != "" {
		c.queue.Add(key)
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	if key := controllerutil.KeyOf(obj); key != "" {
		c.expectations.Delete(key)
		c.queue.Add(key)
	}
}

// resolveControllerRef returns the ReplicaSet ref names if it is still the
// same object (same UID), else nil.
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// replicaSetsSelecting lists the ReplicaSets whose selector matches pod.
func (c *Controller) replicaSetsSelecting(pod *corev1.Pod) []*appsv1.ReplicaSet {
	all, err := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	return out
}
