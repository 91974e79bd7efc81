// Package serviceaccount is skiff's service account controller: it makes
// sure every active namespace has the service accounts pods get by
// default (just "default" unless configured), creating them when a
// namespace appears and again when one is deleted. It skips terminating
// namespaces. It does not mint tokens or mount them into pods.
package serviceaccount

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs and queue metrics.
const Name = "serviceaccount-controller"

// DefaultServiceAccount is the service account every namespace gets.
const DefaultServiceAccount = "default"

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// ServiceAccounts to ensure in every namespace; default
	// [DefaultServiceAccount].
	ServiceAccounts []string
	// Workers for Start; default 1.
	Workers int
}

// Controller keeps the configured service accounts in every namespace.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
	names    []string
	workers  int
}

// New returns a controller fed by the given informers; its queue holds
// namespace names. The caller starts the informer factory; Start waits
// for the caches.
func New(ctx context.Context, client kubernetes.Interface, nsInformer coreinformers.NamespaceInformer,
	saInformer coreinformers.ServiceAccountInformer, opts Options) (*Controller, error) {
	c := &Controller{
		client:   client,
		nsLister: nsInformer.Lister(),
		saLister: saInformer.Lister(),
		synced:   []cache.InformerSynced{nsInformer.Informer().HasSynced, saInformer.Informer().HasSynced},
		queue:    controllerutil.NewQueue(Name),
		log:      opts.Logger,
		names:    append([]string(nil), opts.ServiceAccounts...),
		workers:  opts.Workers,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if len(c.names) == 0 {
		c.names = []string{DefaultServiceAccount}
	}
	if c.workers <= 0 {
		c.workers = 1
	}
	if _, err := nsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, cur any) { c.enqueueNamespace(cur) },
	}); err != nil {
		return nil, err
	}
	if _, err := saInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.deleteServiceAccount,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Start runs the controller until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, c.workers, c.sync, c.synced...)
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && controllerutil.NamespaceActive(ns) {
		c.queue.Add(ns.Name)
	}
}

func (c *Controller) deleteServiceAccount(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return
	}
	for _, n := range c.names {
		if sa.Name == n {
			c.queue.Add(sa.Namespace)
			return
		}
	}
}

// sync creates the configured service accounts missing from namespace
// name, unless it is gone or terminating.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !controllerutil.NamespaceActive(ns) {
		return nil
	}
	for _, sa := range c.names {
		if err := c.ensure(ctx, name, sa); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) ensure(ctx context.Context, ns, name string) error {
	if _, err := c.saLister.ServiceAccounts(ns).Get(name); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	_, err := c.client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.log.Debug("created service account", "serviceaccount", ns+"/"+name)
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil // our cache is behind
	case apierrors.IsForbidden(err) && c.terminating(ctx, ns):
		return nil // the namespace started terminating meanwhile
	}
	return err
}

// terminating reports whether namespace ns is, live, gone or being
// deleted: creations in it are then refused, and that is no error.
func (c *Controller) terminating(ctx context.Context, ns string) bool {
	live, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && !controllerutil.NamespaceActive(live)
}
