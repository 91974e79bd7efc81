package apiserver

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// Local lists and watches serve the informers of the components a server
// runs in its own process (the scheduler and the controller manager).
// They read the stores as a request would, with the same options, checks
// and errors, but skip HTTP: a watch hands over the watch cache's own
// objects, where a client over HTTP gets them encoded and decodes a copy
// of every one. At 150,000 pods that copy was 1.2 GB of the server's
// heap, and encoding and decoding every pod, node and lease change for it
// a tenth of its allocations.
//
// The objects are shared with the cache and with every other watcher, so
// the caller must not modify them (client-go's informer contract; the
// tests run with its cache mutation detector). There is no authentication
// or authorization: the caller is the server itself.

// LocalResource returns the resource served for obj's Go type, as a
// typed informer asks for it.
func (s *Server) LocalResource(obj runtime.Object) (schema.GroupVersionResource, bool) {
	kinds, _, err := s.scheme.ObjectKinds(obj)
	if err != nil {
		return schema.GroupVersionResource{}, false
	}
	for _, gvk := range kinds {
		for _, gv := range s.gvOrder { // resources.All's order: the same answer each time
			for _, ep := range s.byGV[gv] {
				if ep.gvk == gvk {
					return ep.res.GVR(), true
				}
			}
		}
	}
	return schema.GroupVersionResource{}, false
}

// LocalServes reports whether the server serves gvr.
func (s *Server) LocalServes(gvr schema.GroupVersionResource) bool {
	return s.endpoints[gvr] != nil
}

// LocalList lists gvr in namespace ns (all with "") as a GET of its
// collection with opts would. The items are the list's own.
func (s *Server) LocalList(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) (runtime.Object, error) {
	ep, o, err := s.localRequest(gvr, opts)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, ep, ns, o)
}

// LocalWatch watches gvr in namespace ns as a watch request with opts
// would, until Stop, ctx's end or its timeout (opts.TimeoutSeconds, or 30
// to 60 minutes). Its objects are shared: see above.
func (s *Server) LocalWatch(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) (watch.Interface, error) {
	ep, o, err := s.localRequest(gvr, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, watchTimeout(o))
	wi, err := s.watch(ctx, ep, ns, o, o.allowBookmarks)
	if err != nil {
		cancel()
		return nil, err
	}
	return &localWatch{Interface: wi, cancel: cancel}, nil
}

// localRequest finds gvr's endpoint and reads opts as its query would be.
func (s *Server) localRequest(gvr schema.GroupVersionResource, opts metav1.ListOptions) (*endpoint, listOptions, error) {
	ep := s.endpoints[gvr]
	if ep == nil {
		return nil, listOptions{}, apierrors.NewNotFound(gvr.GroupResource(), "")
	}
	q, err := metav1.ParameterCodec.EncodeParameters(&opts, metav1.SchemeGroupVersion)
	if err != nil {
		return nil, listOptions{}, apierrors.NewBadRequest(err.Error())
	}
	o, err := parseListQuery(q, ep)
	return ep, o, err
}

// localWatch ends its context with the watch.
type localWatch struct {
	watch.Interface
	cancel context.CancelFunc
}

func (w *localWatch) Stop() {
	w.Interface.Stop()
	w.cancel()
}
