// Package namespace is skiff's namespace controller. It finishes the
// deletion of namespaces: once a namespace is marked for deletion it
// deletes every namespaced object in it (every resource that discovery
// says supports list and delete, events included), reports progress in the
// namespace's status conditions, and, when nothing is left, removes the
// "kubernetes" finalizer through the namespace's finalize subresource so
// the API server can remove the namespace. It does not refuse creations in
// a terminating namespace (the API server does) and does not run the
// finalizers of the objects it deletes (their owners do).
package namespace

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs and queue metrics.
const Name = "namespace-controller"

// DefaultMaxBackoff caps the delay between two attempts on a namespace
// whose contents are not gone yet.
const DefaultMaxBackoff = 30 * time.Second

// DefaultWorkers is how many namespaces Start deletes at once.
const DefaultWorkers = 5

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// MaxBackoff caps the per-namespace exponential backoff (from 5ms)
	// while content remains or deletion fails (DefaultMaxBackoff).
	MaxBackoff time.Duration
	// Workers for Start (DefaultWorkers).
	Workers int
	// Clock stamps condition transitions; default the real clock.
	Clock clock.PassiveClock
}

// Controller deletes the contents of terminating namespaces and then
// finalizes them.
type Controller struct {
	client   kubernetes.Interface
	metadata metadata.Interface
	nsLister corelisters.NamespaceLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
	clock    clock.PassiveClock
	workers  int
}

// New returns a controller fed by nsInformer. client is used for
// discovery, namespace status and finalize; metadataClient lists and
// deletes the namespace's contents of every resource. The caller starts
// the informer factory; Start waits for the cache.
func New(ctx context.Context, client kubernetes.Interface, metadataClient metadata.Interface,
	nsInformer coreinformers.NamespaceInformer, opts Options) (*Controller, error) {
	maxBackoff := opts.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	c := &Controller{
		client:   client,
		metadata: metadataClient,
		nsLister: nsInformer.Lister(),
		synced:   nsInformer.Informer().HasSynced,
		queue: controllerutil.NewQueueWithRateLimiter(Name,
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, maxBackoff)),
		log:     opts.Logger,
		clock:   opts.Clock,
		workers: opts.Workers,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.workers <= 0 {
		c.workers = DefaultWorkers
	}
	if _, err := nsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Start runs the controller until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, c.workers, c.sync, c.synced)
}

// enqueue queues namespaces being deleted; active ones need nothing.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}

// sync advances the deletion of namespace name by one round: delete what
// is left, record the outcome in the status, and finalize when empty. An
// error (content remaining included) requeues the namespace with backoff.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp == nil || !hasFinalizer(cached) {
		return nil
	}
	// The cache may lag our own status writes; work from the live object.
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !hasFinalizer(ns) {
		return nil
	}
	log := c.log.With("namespace", name)
	res := c.deleteContent(ctx, name)
	ns, err = c.updateStatus(ctx, ns, res)
	if err != nil {
		return err
	}
	if err := res.err(); err != nil {
		log.Debug("namespace not empty yet", "err", err)
		return err
	}
	if err := c.finalize(ctx, ns); err != nil {
		return err
	}
	log.Info("namespace finalized")
	return nil
}

// finalize removes the "kubernetes" finalizer from ns.spec.finalizers.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	cp := ns.DeepCopy()
	cp.Spec.Finalizers = nil
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			cp.Spec.Finalizers = append(cp.Spec.Finalizers, f)
		}
	}
	_, err := c.client.CoreV1().Namespaces().Finalize(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func hasFinalizer(ns *corev1.Namespace) bool {
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}
