// Package garbagecollector is skiff's garbage collector. It watches the
// metadata of a fixed set of resources, indexes every object by its UID and
// by the UIDs its ownerReferences name (the owner→dependents graph), and
// converges three things: a dependent whose owners are all gone is deleted
// (background); an owner being deleted with the foregroundDeletion
// finalizer has its dependents deleted and loses the finalizer once no
// blocking dependent remains; an owner being deleted with the orphan
// finalizer has its ownerReference removed from every dependent and then
// loses the finalizer. It never decides what an owner should own (that is
// each workload controller's job) and it only sees resources it was given.
package garbagecollector

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs and queue metrics.
const Name = "garbage-collector-controller"

// DefaultWorkers is how many objects Start syncs at once.
const DefaultWorkers = 5

// Options are the collector's tunables; the zero value is the default.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Workers syncing objects concurrently (DefaultWorkers).
	Workers int
	// ListerWatcher, when set, is where the informer for a resource lists
	// and watches, returning nil for a resource it does not serve: its
	// objects must be *metav1.PartialObjectMetadata (a server's own
	// collector reads the watch cache's metadata this way instead of
	// decoding a copy of every object). Unset, and for every resource it
	// returns nil for, the informers read metadataClient.
	ListerWatcher func(schema.GroupVersionResource) cache.ListerWatcher
}

// Controller is the garbage collector.
type Controller struct {
	metadata  metadata.Interface
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	synced    []cache.InformerSynced
	kinds     *kindResolver
	queue     workqueue.TypedRateLimitingInterface[string]
	log       *slog.Logger
	workers   int
}

// New returns a collector watching resources through metadata informers
// of its own; Start starts them. client is used for discovery only (to
// map an ownerReference's apiVersion/kind to a resource); every read and
// write of objects goes through metadataClient.
func New(ctx context.Context, client kubernetes.Interface, metadataClient metadata.Interface,
	resources []schema.GroupVersionResource, opts Options) (*Controller, error) {
	if len(resources) == 0 {
		return nil, fmt.Errorf("%s: no resources to watch", Name)
	}
	c := &Controller{
		metadata:  metadataClient,
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		kinds:     newKindResolver(client.Discovery()),
		queue:     controllerutil.NewQueue(Name),
		log:       opts.Logger,
		workers:   opts.Workers,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.workers <= 0 {
		c.workers = DefaultWorkers
	}
	for _, gvr := range resources {
		if _, dup := c.informers[gvr]; dup {
			continue
		}
		var inf cache.SharedIndexInformer
		if lw := listerWatcher(opts, gvr); lw != nil {
			inf = cache.NewSharedIndexInformerWithOptions(lw, &metav1.PartialObjectMetadata{}, cache.SharedIndexInformerOptions{Indexers: cache.Indexers{}, ObjectDescription: gvr.String()})
		} else {
			inf = metadatainformer.NewFilteredMetadataInformer(metadataClient, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
		}
		if err := inf.SetTransform(controllerutil.TrimManagedFields); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", Name, gvr, err)
		}
		if err := inf.AddIndexers(cache.Indexers{uidIndex: indexByUID, ownerIndex: indexByOwnerUID}); err != nil {
			return nil, fmt.Errorf("%s: index %s: %w", Name, gvr, err)
		}
		if _, err := inf.AddEventHandler(c.handlers(gvr)); err != nil {
			return nil, fmt.Errorf("%s: watch %s: %w", Name, gvr, err)
		}
		c.informers[gvr] = inf
		c.synced = append(c.synced, inf.HasSynced)
	}
	return c, nil
}

func listerWatcher(opts Options, gvr schema.GroupVersionResource) cache.ListerWatcher {
	if opts.ListerWatcher == nil {
		return nil
	}
	return opts.ListerWatcher(gvr)
}

// Start runs the informers and the workers until ctx is done. On start
// every cached object is synced, so dependents of owners deleted while
// the collector was down are collected then.
func (c *Controller) Start(ctx context.Context) error {
	for _, inf := range c.informers {
		go inf.RunWithContext(ctx)
	}
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) handlers(gvr schema.GroupVersionResource) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(gvr, obj) },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*metav1.PartialObjectMetadata)
			n, ok2 := cur.(*metav1.PartialObjectMetadata)
			if !ok1 || !ok2 {
				c.enqueue(gvr, cur)
				return
			}
			// Only a change to what sync reads of the object itself can
			// change its outcome (upstream's graph builder acts on the
			// same): a Lease's renewal or a pod's status update leaves
			// it as it was. Its owners' changes reach it through their
			// own events.
			if collectedStateChanged(o, n) {
				c.enqueue(gvr, cur)
			}
			// A dependent that dropped a reference may unblock an owner
			// waiting in foreground deletion.
			if !sameOwners(o, n) {
				c.enqueueOwners(o)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			m, ok := obj.(*metav1.PartialObjectMetadata)
			if !ok {
				return
			}
			c.enqueueDependents(m.UID)
			c.enqueueOwners(m)
		},
	}
}

// enqueue adds an informer object of resource gvr.
func (c *Controller) enqueue(gvr schema.GroupVersionResource, obj any) {
	if k := controllerutil.KeyOf(obj); k != "" {
		c.queue.Add(objectKey(gvr, k))
	}
}

// enqueueOwners adds every cached owner m references.
func (c *Controller) enqueueOwners(m *metav1.PartialObjectMetadata) {
	for _, ref := range m.OwnerReferences {
		for gvr, owner := range c.cachedByUID(ref.UID) {
			c.enqueue(gvr, owner)
		}
	}
}

// enqueueDependents adds every cached object that references uid.
func (c *Controller) enqueueDependents(uid types.UID) {
	for _, d := range c.dependents(uid) {
		c.enqueue(d.gvr, d.meta)
	}
}

// objectKey is the queue key of namespace/name key of resource gvr.
func objectKey(gvr schema.GroupVersionResource, key string) string {
	return gvr.Group + "|" + gvr.Version + "|" + gvr.Resource + "|" + key
}

func parseKey(key string) (schema.GroupVersionResource, string, error) {
	p := strings.SplitN(key, "|", 4)
	if len(p) != 4 {
		return schema.GroupVersionResource{}, "", fmt.Errorf("bad key %q", key)
	}
	return schema.GroupVersionResource{Group: p[0], Version: p[1], Resource: p[2]}, p[3], nil
}
