package app

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/informers/apps"
	"k8s.io/client-go/informers/coordination"
	"k8s.io/client-go/informers/core"
	"k8s.io/client-go/informers/discovery"
	"k8s.io/client-go/informers/internalinterfaces"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// sharedInformers is one informer cache for the components a server runs
// in its own process, the scheduler and the controller manager: both
// watch every pod, node and namespace, and with a cache each the server
// would decode and hold every pod twice (a quarter of its heap at 60,000
// pods). In a server they read its API server directly (newSharedInformers'
// local), so even the one cache is the watch cache's objects, not a copy.
// The informers run for the life of the process, like upstream's
// scheduler's, which fills its cache before it campaigns, so a standby
// server takes over with a warm cache.
//
// Each leader term of a component sees the cache through forTerm: the
// handlers the term registers are its own, and are removed when the term
// ends (its factory's Shutdown), so a component that loses and regains
// leadership does not leave the old term's handlers feeding stopped
// queues.
type sharedInformers struct {
	factory informers.SharedInformerFactory
	ctx     context.Context // the process's: the informers run until it ends
	local   localAccess     // nil: every informer lists and watches over HTTP
}

// localAccess is the API server's lists and watches for its own process
// (apiserver.Server's Local methods): a watch hands over the watch
// cache's objects instead of a decoded copy of each.
type localAccess interface {
	LocalResource(obj runtime.Object) (schema.GroupVersionResource, bool)
	LocalServes(gvr schema.GroupVersionResource) bool
	LocalList(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) (runtime.Object, error)
	LocalWatch(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) (watch.Interface, error)
}

// newSharedInformers returns informers that run until ctx ends. With
// local, they read the API server in this process directly and hold its
// watch cache's objects, shared and so untrimmed; a type it does not
// serve, or every type without local, is read over client (whose
// identity and rate limits the requests use) with managedFields trimmed,
// as both components' own caches did.
func newSharedInformers(ctx context.Context, client kubernetes.Interface, local localAccess) *sharedInformers {
	var opts []informers.SharedInformerOption
	if local == nil {
		opts = append(opts, informers.WithTransform(controllerutil.TrimManagedFields))
	}
	return &sharedInformers{
		factory: informers.NewSharedInformerFactoryWithOptions(client, 0, opts...),
		ctx:     ctx,
		local:   local,
	}
}

// newInformer is how the factory builds the informer for obj's type:
// over local access where the server serves the type, else newFunc's
// informer over HTTP with managedFields trimmed.
func (s *sharedInformers) newInformer(obj runtime.Object, newFunc internalinterfaces.NewInformerFunc) internalinterfaces.NewInformerFunc {
	if s.local == nil {
		return newFunc
	}
	gvr, ok := s.local.LocalResource(obj)
	if !ok {
		return func(client kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
			inf := newFunc(client, resync)
			_ = inf.SetTransform(controllerutil.TrimManagedFields)
			return inf
		}
	}
	return func(_ kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return s.local.LocalList(ctx, gvr, metav1.NamespaceAll, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return s.local.LocalWatch(ctx, gvr, metav1.NamespaceAll, opts)
			},
		}
		// The namespace index, as client-go's typed informers have.
		return cache.NewSharedIndexInformerWithOptions(lw, obj, cache.SharedIndexInformerOptions{
			ResyncPeriod:      resync,
			Indexers:          cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
			ObjectDescription: gvr.String(),
		})
	}
}

// metadataListerWatcher is where the garbage collector's informer for gvr
// lists and watches in a server: the API server's own objects as
// PartialObjectMetadata, which upstream's collector reads over HTTP. Each
// shares its metadata's maps and slices with the watch cache's object, so,
// like it, must not be modified; managedFields, which the collector never
// reads, are left out. nil without local access or for a resource the
// server does not serve (the collector then reads over HTTP).
func (s *sharedInformers) metadataListerWatcher(gvr schema.GroupVersionResource) cache.ListerWatcher {
	if s == nil || s.local == nil || !s.local.LocalServes(gvr) {
		return nil
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list, err := s.local.LocalList(ctx, gvr, metav1.NamespaceAll, opts)
			if err != nil {
				return nil, err
			}
			return metadataList(list)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := s.local.LocalWatch(ctx, gvr, metav1.NamespaceAll, opts)
			if err != nil {
				return nil, err
			}
			return newMetadataWatch(w), nil
		},
	}
}

// metadataOf is obj's metadata as the collector sees it.
func metadataOf(obj runtime.Object) (*metav1.PartialObjectMetadata, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	p := meta.AsPartialObjectMetadata(m)
	p.ManagedFields = nil
	p.Kind, p.APIVersion = "PartialObjectMetadata", metav1.SchemeGroupVersion.String()
	return p, nil
}

// metadataList is list's items' metadata.
func metadataList(list runtime.Object) (*metav1.PartialObjectMetadataList, error) {
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	out := &metav1.PartialObjectMetadataList{}
	out.Kind, out.APIVersion = "PartialObjectMetadataList", metav1.SchemeGroupVersion.String()
	out.ResourceVersion, out.Continue, out.RemainingItemCount = lm.GetResourceVersion(), lm.GetContinue(), lm.GetRemainingItemCount()
	if n := meta.LenList(list); n > 0 {
		out.Items = make([]metav1.PartialObjectMetadata, 0, n)
	}
	err = meta.EachListItem(list, func(obj runtime.Object) error {
		p, err := metadataOf(obj)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, *p)
		return nil
	})
	return out, err
}

// metadataWatch is a watch's events with their objects' metadata. Error
// events pass unchanged.
type metadataWatch struct {
	in   watch.Interface
	out  chan watch.Event
	stop chan struct{}
	once sync.Once
}

func newMetadataWatch(in watch.Interface) *metadataWatch {
	w := &metadataWatch{in: in, out: make(chan watch.Event), stop: make(chan struct{})}
	go w.run()
	return w
}

func (w *metadataWatch) run() {
	defer close(w.out)
	for ev := range w.in.ResultChan() {
		if ev.Type != watch.Error {
			p, err := metadataOf(ev.Object)
			if err != nil {
				ev = watch.Event{Type: watch.Error, Object: &apierrors.NewInternalError(err).ErrStatus}
			} else {
				ev.Object = p
			}
		}
		select {
		case w.out <- ev:
		case <-w.stop:
			return
		}
	}
}

func (w *metadataWatch) ResultChan() <-chan watch.Event { return w.out }

// Stop ends the watch; its sender never blocks once stopped.
func (w *metadataWatch) Stop() {
	w.once.Do(func() {
		close(w.stop)
		w.in.Stop()
	})
}

// shutdown waits for the informers to stop (after the process's ctx ends).
func (s *sharedInformers) shutdown() { s.factory.Shutdown() }

// forTerm returns a factory for one leader term.
func (s *sharedInformers) forTerm() *termInformers {
	t := &termInformers{SharedInformerFactory: s.factory, shared: s, wrapped: map[cache.SharedIndexInformer]*termInformer{}}
	return t
}

// termInformers is a SharedInformerFactory for one leader term over the
// process's shared informers. Start starts the shared informers (on the
// process's lifetime, not the caller's channel); Shutdown removes the
// term's handlers and leaves the informers running. Core, Apps,
// Coordination and Discovery hand out informers that track the term's
// handlers; the other groups, unused by the components, are the shared
// factory's own.
type termInformers struct {
	informers.SharedInformerFactory
	shared *sharedInformers

	mu      sync.Mutex
	wrapped map[cache.SharedIndexInformer]*termInformer
	ended   bool
}

var _ informers.SharedInformerFactory = (*termInformers)(nil)

// InformerFor returns the shared informer for obj's type, seen by the term.
func (t *termInformers) InformerFor(obj runtime.Object, newFunc internalinterfaces.NewInformerFunc) cache.SharedIndexInformer {
	inner := t.shared.factory.InformerFor(obj, t.shared.newInformer(obj, newFunc))
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.wrapped[inner]
	if w == nil {
		w = &termInformer{SharedIndexInformer: inner, term: t}
		t.wrapped[inner] = w
	}
	return w
}

func (t *termInformers) Core() core.Interface {
	return core.New(t, metav1.NamespaceAll, nil)
}

func (t *termInformers) Apps() apps.Interface {
	return apps.New(t, metav1.NamespaceAll, nil)
}

func (t *termInformers) Coordination() coordination.Interface {
	return coordination.New(t, metav1.NamespaceAll, nil)
}

func (t *termInformers) Discovery() discovery.Interface {
	return discovery.New(t, metav1.NamespaceAll, nil)
}

// Start starts the shared informers the process's components have asked
// for so far; they run until the process ends, whatever stopCh does.
func (t *termInformers) Start(<-chan struct{}) { t.shared.factory.Start(t.shared.ctx.Done()) }

// StartWithContext is Start.
func (t *termInformers) StartWithContext(context.Context) { t.Start(nil) }

// Shutdown ends the term: its handlers are removed from the shared
// informers, which keep running for the other components and the next
// term. Handlers registered after it are removed at once.
func (t *termInformers) Shutdown() {
	t.mu.Lock()
	t.ended = true
	ws := make([]*termInformer, 0, len(t.wrapped))
	for _, w := range t.wrapped {
		ws = append(ws, w)
	}
	t.mu.Unlock()
	for _, w := range ws {
		w.removeAll()
	}
}

// termInformer is a shared informer as one term sees it: the handlers
// added through it are the term's, and it has synced once the informer
// has and each of those handlers has been given the informer's initial
// list (a handler added to a running informer receives it afterwards).
type termInformer struct {
	cache.SharedIndexInformer
	term *termInformers

	mu   sync.Mutex
	regs []cache.ResourceEventHandlerRegistration
}

func (w *termInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	return w.track(w.SharedIndexInformer.AddEventHandler(h))
}

func (w *termInformer) AddEventHandlerWithResyncPeriod(h cache.ResourceEventHandler, resync time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	return w.track(w.SharedIndexInformer.AddEventHandlerWithResyncPeriod(h, resync))
}

func (w *termInformer) AddEventHandlerWithOptions(h cache.ResourceEventHandler, opts cache.HandlerOptions) (cache.ResourceEventHandlerRegistration, error) {
	return w.track(w.SharedIndexInformer.AddEventHandlerWithOptions(h, opts))
}

func (w *termInformer) RemoveEventHandler(reg cache.ResourceEventHandlerRegistration) error {
	w.mu.Lock()
	for i, r := range w.regs {
		if r == reg {
			w.regs = append(w.regs[:i], w.regs[i+1:]...)
			break
		}
	}
	w.mu.Unlock()
	return w.SharedIndexInformer.RemoveEventHandler(reg)
}

// HasSynced reports whether the informer and every handler of the term on
// it have seen the initial list.
func (w *termInformer) HasSynced() bool {
	if !w.SharedIndexInformer.HasSynced() {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.regs {
		if !r.HasSynced() {
			return false
		}
	}
	return true
}

func (w *termInformer) track(reg cache.ResourceEventHandlerRegistration, err error) (cache.ResourceEventHandlerRegistration, error) {
	if err != nil {
		return reg, err
	}
	// Under the term's lock: either Shutdown has not yet begun, and will
	// find the handler, or it has, and the handler goes now.
	w.term.mu.Lock()
	defer w.term.mu.Unlock()
	if w.term.ended {
		// The term is over: its handlers must not run.
		return reg, w.SharedIndexInformer.RemoveEventHandler(reg)
	}
	w.mu.Lock()
	w.regs = append(w.regs, reg)
	w.mu.Unlock()
	return reg, nil
}

// removeAll removes the term's handlers from the informer.
func (w *termInformer) removeAll() {
	w.mu.Lock()
	regs := w.regs
	w.regs = nil
	w.mu.Unlock()
	for _, r := range regs {
		_ = w.SharedIndexInformer.RemoveEventHandler(r)
	}
}
