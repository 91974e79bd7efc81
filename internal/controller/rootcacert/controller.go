// Package rootcacert is skiff's root CA certificate publisher: it keeps a
// ConfigMap "kube-root-ca.crt" holding the cluster CA (key "ca.crt") in
// every active namespace, so pods can verify the API server through the
// kubernetes Service. It recreates the ConfigMap when it is deleted and
// restores its data when it is edited. It does not issue or rotate the
// CA; it publishes the bundle it is given.
package rootcacert

import (
	"context"
	"errors"
	"log/slog"
	"maps"

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
const Name = "root-ca-cert-publisher"

const (
	// ConfigMapName is the published ConfigMap in every namespace.
	ConfigMapName = "kube-root-ca.crt"
	// DataKey holds the PEM bundle.
	DataKey = "ca.crt"
	// DescriptionAnnotation and Description say what the ConfigMap is
	// for, as upstream.
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Workers for Start; default 1.
	Workers int
}

// Controller publishes the root CA bundle in every namespace.
type Controller struct {
	client   kubernetes.Interface
	rootCA   string
	nsLister corelisters.NamespaceLister
	cmLister corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
	workers  int
}

// New returns a controller publishing rootCA (PEM, e.g. the CAData of the
// controller manager's client config), fed by the given informers; its
// queue holds namespace names. The caller starts the informer factory;
// Start waits for the caches.
func New(ctx context.Context, client kubernetes.Interface, rootCA []byte, nsInformer coreinformers.NamespaceInformer,
	cmInformer coreinformers.ConfigMapInformer, opts Options) (*Controller, error) {
	if len(rootCA) == 0 {
		return nil, errors.New("root CA publisher: no CA bundle to publish")
	}
	c := &Controller{
		client:   client,
		rootCA:   string(rootCA),
		nsLister: nsInformer.Lister(),
		cmLister: cmInformer.Lister(),
		synced:   []cache.InformerSynced{nsInformer.Informer().HasSynced, cmInformer.Informer().HasSynced},
		queue:    controllerutil.NewQueue(Name),
		log:      opts.Logger,
		workers:  opts.Workers,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.workers <= 0 {
		c.workers = 1
	}
	if _, err := nsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, cur any) { c.enqueueNamespace(cur) },
	}); err != nil {
		return nil, err
	}
	if _, err := cmInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, cur any) { c.enqueueConfigMap(cur) },
		DeleteFunc: c.enqueueConfigMap,
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

func (c *Controller) enqueueConfigMap(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == ConfigMapName {
		c.queue.Add(cm.Namespace)
	}
}

// sync makes namespace name's ConfigMap what it should be: created if
// missing, its data and description restored if changed. Other labels
// and annotations a user added are kept.
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
	cm, err := c.cmLister.ConfigMaps(name).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		return c.create(ctx, name)
	}
	if err != nil {
		return err
	}
	want := c.data()
	if maps.Equal(cm.Data, want) && len(cm.BinaryData) == 0 && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	next := cm.DeepCopy() // never modify the cached object
	next.Data, next.BinaryData = want, nil
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	if next.Annotations[DescriptionAnnotation] == "" {
		next.Annotations[DescriptionAnnotation] = Description
	}
	_, err = c.client.CoreV1().ConfigMaps(name).Update(ctx, next, metav1.UpdateOptions{})
	switch {
	case err == nil:
		c.log.Debug("restored root CA configmap", "configmap", name+"/"+ConfigMapName)
		return nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Our cache is behind; the informer event requeues us.
		return nil
	}
	return err
}

func (c *Controller) create(ctx context.Context, ns string) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: ns,
			Annotations: map[string]string{DescriptionAnnotation: Description}},
		Data: c.data(),
	}
	_, err := c.client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.log.Debug("published root CA configmap", "configmap", ns+"/"+ConfigMapName)
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil // our cache is behind
	case apierrors.IsForbidden(err) && c.terminating(ctx, ns):
		return nil // the namespace started terminating meanwhile
	}
	return err
}

func (c *Controller) data() map[string]string { return map[string]string{DataKey: c.rootCA} }

// terminating reports whether namespace ns is, live, gone or being
// deleted: creations in it are then refused, and that is no error.
func (c *Controller) terminating(ctx context.Context, ns string) bool {
	live, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && !controllerutil.NamespaceActive(live)
}
