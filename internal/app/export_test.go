package app

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// SharedInformers exposes the components' shared informer cache to the
// package's external tests.
type SharedInformers struct{ s *sharedInformers }

func NewSharedInformers(ctx context.Context, client kubernetes.Interface) SharedInformers {
	return SharedInformers{newSharedInformers(ctx, client, nil)}
}

// NewLocalSharedInformers are the shared informers as srv's components
// get them: over its API server's local lists and watches.
func NewLocalSharedInformers(ctx context.Context, client kubernetes.Interface, srv *Server) SharedInformers {
	return SharedInformers{newSharedInformers(ctx, client, srv.api)}
}

// LocalWatch is srv's API server's local watch.
func LocalWatch(ctx context.Context, srv *Server, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) (watch.Interface, error) {
	return srv.api.LocalWatch(ctx, gvr, ns, opts)
}

// LocalList is srv's API server's local list.
func LocalList(ctx context.Context, srv *Server, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) (runtime.Object, error) {
	return srv.api.LocalList(ctx, gvr, ns, opts)
}

func (s SharedInformers) ForTerm() informers.SharedInformerFactory { return s.s.forTerm() }
func (s SharedInformers) Shutdown()                                { s.s.shutdown() }

// MetadataListerWatcher is the garbage collector's lister-watcher for gvr
// in srv (nil where it reads over HTTP).
func MetadataListerWatcher(srv *Server, gvr schema.GroupVersionResource) cache.ListerWatcher {
	return newSharedInformers(context.Background(), nil, srv.api).metadataListerWatcher(gvr)
}
