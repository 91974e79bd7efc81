// Package endpointslice is skiff's endpoint slice controller: for every
// Service with a selector it keeps IPv4 EndpointSlices listing the pods the
// selector matches, and mirrors them into the Service's core/v1 Endpoints
// for older clients. Slices carry a controller owner reference to their
// Service, so the garbage collector removes them with it; the Endpoints
// object, which has no owner, is deleted here when its Service goes.
package endpointslice

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs and queue metrics.
const Name = "endpointslice-controller"

// ManagedBy is the value of the managed-by label on the slices this
// controller owns; slices without it are never touched.
const ManagedBy = "endpointslice-controller.k8s.io"

// MaxEndpointsPerSlice is how many endpoints one slice holds at most.
const MaxEndpointsPerSlice = 100

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Workers for Start; default 1.
	Workers int
}

// Controller keeps the EndpointSlices and Endpoints of selector Services.
type Controller struct {
	client      kubernetes.Interface
	svcLister   corelisters.ServiceLister
	podLister   corelisters.PodLister
	sliceLister discoverylisters.EndpointSliceLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	log         *slog.Logger
	workers     int
}

// New returns a controller fed by the given informers; its queue holds
// service namespace/name keys. The caller starts the informer factory;
// Start waits for the caches.
func New(ctx context.Context, client kubernetes.Interface, svcInformer coreinformers.ServiceInformer,
	podInformer coreinformers.PodInformer, sliceInformer discoveryinformers.EndpointSliceInformer,
	opts Options) (*Controller, error) {
	c := &Controller{
		client:      client,
		svcLister:   svcInformer.Lister(),
		podLister:   podInformer.Lister(),
		sliceLister: sliceInformer.Lister(),
		synced: []cache.InformerSynced{svcInformer.Informer().HasSynced, podInformer.Informer().HasSynced,
			sliceInformer.Informer().HasSynced},
		queue:   controllerutil.NewQueue(Name),
		log:     opts.Logger,
		workers: opts.Workers,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.workers <= 0 {
		c.workers = 1
	}
	if _, err := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueService,
		UpdateFunc: func(_, cur any) { c.enqueueService(cur) },
		DeleteFunc: c.enqueueService,
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
	if _, err := sliceInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueSliceService,
		UpdateFunc: func(_, cur any) { c.enqueueSliceService(cur) },
		DeleteFunc: c.enqueueSliceService,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Start runs the controller until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) enqueueService(obj any) {
	if key := controllerutil.KeyOf(obj); key != "" {
		c.queue.Add(key)
	}
}

// enqueueSliceService enqueues the service of a managed slice, so that a
// slice edited or deleted behind our back is put right.
func (c *Controller) enqueueSliceService(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := obj.(*discovery.EndpointSlice)
	if !ok || s.Labels[discovery.LabelManagedBy] != ManagedBy {
		return
	}
	if svc := s.Labels[discovery.LabelServiceName]; svc != "" {
		c.queue.Add(s.Namespace + "/" + svc)
	}
}

func (c *Controller) addPod(obj any) {
	if p, ok := obj.(*corev1.Pod); ok {
		c.enqueuePodServices(p.Namespace, p.Labels, nil)
	}
}

func (c *Controller) updatePod(old, cur any) {
	o, ok1 := old.(*corev1.Pod)
	n, ok2 := cur.(*corev1.Pod)
	if !ok1 || !ok2 || o.ResourceVersion == n.ResourceVersion {
		return // a resync changes nothing
	}
	c.enqueuePodServices(n.Namespace, n.Labels, o.Labels)
}

func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		c.enqueuePodServices(p.Namespace, p.Labels, nil)
	}
}

// enqueuePodServices enqueues every service in ns whose selector matches
// either label set.
func (c *Controller) enqueuePodServices(ns string, cur, old map[string]string) {
	svcs, err := c.svcLister.Services(ns).List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		if !managed(svc) {
			continue
		}
		sel := labels.SelectorFromValidatedSet(svc.Spec.Selector)
		if sel.Matches(labels.Set(cur)) || (old != nil && sel.Matches(labels.Set(old))) {
			c.queue.Add(svc.Namespace + "/" + svc.Name)
		}
	}
}

// managed reports whether the controller computes endpoints for svc: it
// has a selector and is not an ExternalName service.
func managed(svc *corev1.Service) bool {
	return svc.Spec.Selector != nil && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// sync reconciles the slices and Endpoints of the service with key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // never valid
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Slices go with their owner (the garbage collector's job); the
		// Endpoints object has no owner, so it is removed here.
		return c.deleteEndpoints(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	if !managed(svc) || svc.DeletionTimestamp != nil {
		return nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	if err := c.syncSlices(ctx, svc, pods); err != nil {
		return err
	}
	return c.syncEndpoints(ctx, svc, pods)
}
