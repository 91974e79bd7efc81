// Package deployment is skiff's Deployment controller. A Deployment owns
// one ReplicaSet per distinct pod template, named
// "<deployment>-<pod-template-hash>"; the controller creates them, adopts
// and releases them by selector, scales them for RollingUpdate
// (maxSurge/maxUnavailable) or Recreate rollouts, keeps the revision
// annotations that `kubectl rollout history|undo` read, deletes old
// ReplicaSets beyond revisionHistoryLimit, and writes the Deployment's
// status and its Progressing/Available conditions. Pods themselves belong
// to the ReplicaSet controller.
package deployment

import (
	"context"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs, events and queue metrics.
const Name = "deployment-controller"

var (
	controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
	rsKind         = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	Logger   *slog.Logger         // default slog.Default()
	Recorder record.EventRecorder // default one writing through the client
	Clock    clock.Clock          // default the real clock
}

// Controller reconciles Deployments with their ReplicaSets.
type Controller struct {
	client    kubernetes.Interface
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	rsIndexer cache.Indexer // with controllerutil.ControllerUIDIndex
	podLister corelisters.PodLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	recorder  record.EventRecorder
	log       *slog.Logger
	clock     clock.Clock
}

// New returns a controller fed by the given informers. The caller starts
// the informer factory; Run waits for the caches.
func New(ctx context.Context, client kubernetes.Interface, dInformer appsinformers.DeploymentInformer,
	rsInformer appsinformers.ReplicaSetInformer, podInformer coreinformers.PodInformer, opts Options) (*Controller, error) {
	c := &Controller{
		client:    client,
		dLister:   dInformer.Lister(),
		rsLister:  rsInformer.Lister(),
		rsIndexer: rsInformer.Informer().GetIndexer(),
		podLister: podInformer.Lister(),
		synced: []cache.InformerSynced{dInformer.Informer().HasSynced, rsInformer.Informer().HasSynced,
			podInformer.Informer().HasSynced},
		queue:    controllerutil.NewQueue(Name),
		recorder: opts.Recorder,
		log:      opts.Logger,
		clock:    opts.Clock,
	}
	if err := controllerutil.AddControllerUIDIndexer(rsInformer.Informer()); err != nil {
		return nil, err
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.recorder == nil {
		c.recorder = controllerutil.NewRecorder(ctx, client, Name)
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.enqueue, UpdateFunc: func(_, o any) { c.enqueue(o) }, DeleteFunc: c.enqueue}},
		{rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.replicaSetChanged, UpdateFunc: c.replicaSetUpdated, DeleteFunc: c.replicaSetChanged}},
		// Recreate waits for old pods to be gone.
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.podDeleted}},
	}
	for _, x := range handlers {
		if _, err := x.inf.AddEventHandler(x.h); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Run syncs Deployments with workers goroutines until ctx is done.
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

func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	d, err := c.dLister.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

func (c *Controller) replicaSetChanged(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if rs, ok = tomb.Obj.(*appsv1.ReplicaSet); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := c.resolve(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	// An orphan: every deployment that could adopt it looks.
	ds, _ := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			c.enqueue(d)
		}
	}
}

func (c *Controller) replicaSetUpdated(oldObj, curObj any) {
	old, cur := oldObj.(*appsv1.ReplicaSet), curObj.(*appsv1.ReplicaSet)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if ref := metav1.GetControllerOf(old); ref != nil {
		if d := c.resolve(old.Namespace, ref); d != nil {
			c.enqueue(d)
		}
	}
	c.replicaSetChanged(cur)
}

func (c *Controller) podDeleted(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != rsKind.Kind {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if d := c.resolve(rs.Namespace, metav1.GetControllerOf(rs)); d != nil &&
		d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(d)
	}
}
