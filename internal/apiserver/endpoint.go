package apiserver

import (
	"fmt"
	"path"
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// endpoint is one served resource: its description, its store, and what
// the handlers derive from them once.
type endpoint struct {
	res   *resources.Resource
	store storage.Interface
	// prefix is the etcd key prefix, ending in "/".
	prefix string
	gvk    schema.GroupVersionKind
	// listGVK is the kind of the list type.
	listGVK schema.GroupVersionKind
	// fieldLabels are the field selector keys this resource supports.
	fieldLabels map[string]bool
	// fieldManager tracks managedFields for writes to the main resource;
	// statusFieldManager for writes through /status.
	fieldManager       *managedfields.FieldManager
	statusFieldManager *managedfields.FieldManager
	// index is the resource's index (Resource.Index) when its store
	// holds its own type; nil otherwise.
	index *resources.FieldIndex
}

func (s *Server) newEndpoint(res *resources.Resource) (*endpoint, error) {
	ep := &endpoint{
		res:     res,
		gvk:     res.GVK(),
		listGVK: res.GroupVersion.WithKind(res.Kind + "List"),
	}
	stored := res.GroupResource()
	newFn, newListFn := res.New, res.NewList
	storedGV := res.GroupVersion
	if res.Storage != nil {
		stored = schema.GroupResource{Group: res.Storage.Group, Resource: res.Storage.Resource}
		newFn, newListFn = res.Storage.New, res.Storage.NewList
		storedGV = schema.GroupVersion{Group: res.Storage.Group, Version: "v1"}
	}
	ep.prefix = path.Join(s.cfg.KeyPrefix, stored.String()) + "/"
	cfg := storage.StoreConfig{
		Codec:            storage.NewCodec(s.scheme, storedGV),
		NewFunc:          newFn,
		NewListFunc:      newListFn,
		BookmarkInterval: s.cfg.BookmarkInterval,
		// Watches of the resource share one etcd watch.
		KeyPrefix: ep.prefix,
		Metrics:   s.metrics.storage,
		Resource:  stored.String(),
	}
	if res.Storage == nil {
		// A converted store holds another type, which Index.Value does
		// not read.
		ep.index = res.Index
	}
	if ep.index != nil {
		// The watch cache finds the watchers of an object's value (a
		// pod's kubelet) without asking every watch, and a list of one
		// value reads that value's objects alone.
		cfg.WatchIndex = ep.index.Value
	}
	if stored.Resource == "events" && stored.Group == "" {
		cfg.TTL = func(runtime.Object) int64 { return 3600 }
		// No watch cache for events (core/v1 and events.k8s.io/v1, which
		// is stored as core/v1), as upstream's defaults have none
		// (DefaultWatchCacheSizes: events 0): events are written far more
		// often than read, and a cache, once one list or watch started
		// it, would keep every event of the last hour decoded in memory
		// (600,000 of them in a 5,000-node density run). Their lists read
		// etcd and each watch has an etcd watch of its own.
		cfg.KeyPrefix = ""
	}
	ep.store = storage.NewStore(s.cfg.Etcd, cfg)
	if res.Storage != nil {
		ep.store = &convertingStore{inner: ep.store, conv: res.Storage, newFn: res.New, newListFn: res.NewList}
	}

	ep.fieldLabels = map[string]bool{"metadata.name": true, "metadata.namespace": true}
	if res.Fields != nil {
		for k := range res.Fields(res.New()) {
			ep.fieldLabels[k] = true
		}
	}

	var err error
	tc := newNoManagedFieldsConverter(s.scheme)
	if ep.fieldManager, ep.statusFieldManager, err = newFieldManagers(s.scheme, res, ep.gvk, tc); err != nil {
		return nil, err
	}
	return ep, nil
}

// newFieldManagers builds the field managers of res's writes and of its
// status writes (nil without a status), over the type converter tc.
func newFieldManagers(scheme *runtime.Scheme, res *resources.Resource, gvk schema.GroupVersionKind,
	tc managedfields.TypeConverter) (main, status *managedfields.FieldManager, err error) {
	var reset, statusReset map[fieldpath.APIVersion]fieldpath.Filter
	if res.HasStatus {
		apiVersion := fieldpath.APIVersion(res.GroupVersion.String())
		reset = map[fieldpath.APIVersion]fieldpath.Filter{
			apiVersion: fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status"))),
		}
		statusReset = map[fieldpath.APIVersion]fieldpath.Filter{
			apiVersion: fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("spec"))),
		}
	}
	// The field manager only reads what it converts to the version it
	// already has (or defaults a fresh object), so the scheme need not
	// copy it first; upstream's API server gives it the same unsafe
	// convertor.
	conv := runtime.UnsafeObjectConvertor(scheme)
	main, err = managedfields.NewDefaultFieldManager(tc, conv, defaulter{res}, scheme, gvk, gvk.GroupVersion(), "", reset)
	if err != nil {
		return nil, nil, fmt.Errorf("field manager: %w", err)
	}
	if res.HasStatus {
		status, err = managedfields.NewDefaultFieldManager(tc, conv, defaulter{res}, scheme, gvk, gvk.GroupVersion(), "status", statusReset)
		if err != nil {
			return nil, nil, fmt.Errorf("status field manager: %w", err)
		}
	}
	return main, status, nil
}

// indexValue is the value of the endpoint's index field o's field
// selector requires, so its predicate matches only objects of that
// value; nil if it requires none or the endpoint has no index.
func (ep *endpoint) indexValue(o listOptions) *string {
	if ep.index == nil {
		return nil
	}
	if v, ok := o.fields.RequiresExactMatch(ep.index.Field); ok {
		return &v
	}
	return nil
}

// key is the etcd key of one object.
func (ep *endpoint) key(namespace, name string) string {
	if ep.res.Namespaced {
		return ep.prefix + namespace + "/" + name
	}
	return ep.prefix + name
}

// listKey is the prefix of a namespace's objects, or of all of them.
func (ep *endpoint) listKey(namespace string) string {
	if ep.res.Namespaced && namespace != "" {
		return ep.prefix + namespace + "/"
	}
	return ep.prefix
}

// fieldSet is the selectable fields of obj.
func (ep *endpoint) fieldSet(obj runtime.Object) fields.Set {
	set := fields.Set{}
	if ep.res.Fields != nil {
		set = ep.res.Fields(obj)
	}
	if m, ok := obj.(metav1.Object); ok {
		set["metadata.name"] = m.GetName()
		if ep.res.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	return set
}

// setKind sets the object's apiVersion and kind to the served ones.
func (ep *endpoint) setKind(obj runtime.Object) {
	obj.GetObjectKind().SetGroupVersionKind(ep.gvk)
}

// defaulter adapts a resource's Default hook for the field manager.
type defaulter struct{ res *resources.Resource }

func (d defaulter) Default(obj runtime.Object) {
	if d.res.Default != nil {
		d.res.Default(obj)
	}
}

// copyField sets dst.<name> = src.<name> for two objects of one struct
// type; it is how status and spec are kept apart generically.
func copyField(dst, src runtime.Object, name string) {
	dv := reflect.ValueOf(dst).Elem()
	sv := reflect.ValueOf(src).Elem()
	df, sf := dv.FieldByName(name), sv.FieldByName(name)
	if df.IsValid() && sf.IsValid() && df.CanSet() {
		df.Set(sf)
	}
}

// hasField reports whether obj's struct has a field called name.
func hasField(obj runtime.Object, name string) bool {
	return reflect.ValueOf(obj).Elem().FieldByName(name).IsValid()
}

func isSubresource(ri requestInfo, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(ri.Subresource, n) {
			return true
		}
	}
	return false
}
