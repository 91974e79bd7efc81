// Package openapi builds the OpenAPI v3 documents skiff's API server serves
// under /openapi/v3: an index, and one document per group-version with the
// paths and operations of its resources and the schemas of every type they
// reach. The schemas are generated from the k8s.io/api Go types by
// reflection (field names from json tags, descriptions from each type's
// SwaggerDoc, strategic-merge keys from struct tags), so kubectl can
// validate server-side, compute apply patches and explain fields.
//
// The package owns document contents only. The HTTP layer serves them, with
// the hash as ETag and for caching; the resource list comes from the caller.
package openapi

import (
	"cmp"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is one REST resource of a group-version.
type Resource struct {
	GVK        schema.GroupVersionKind
	Plural     string
	Namespaced bool
	// Type is the object's struct type, e.g. reflect.TypeFor[corev1.Pod]().
	Type reflect.Type
	// ListType is the list's struct type; required with the list verb.
	ListType     reflect.Type
	Subresources []Subresource
	// Verbs are Kubernetes verbs: create delete deletecollection get list
	// patch update watch.
	Verbs []string
}

// Subresource is a subresource of a Resource.
//
// With a Type, its verbs (get, create, update, patch, delete) read and
// write that type (scale, eviction, binding). Without one, log is a
// plain-text read, exec, attach, portforward and proxy are connect
// operations, and any other name reads and writes the parent's type and
// kind (status, finalize, ephemeralcontainers). An empty GVK, or an empty
// group and version, means the parent's.
type Subresource struct {
	Name  string
	GVK   schema.GroupVersionKind
	Type  reflect.Type
	Verbs []string
}

// Documents holds the documents of a set of resources. Each group-version's
// document is generated on first use and then kept; all methods are safe
// for concurrent use. Returned byte slices are shared and must not be
// modified.
type Documents struct {
	gvs   map[string]*groupVersion // by path, "api/v1", "apis/apps/v1"
	paths []string                 // sorted keys of gvs

	mu    sync.Mutex // serializes generation; guards gen and each gv's doc
	gen   *generator
	index []byte
}

type groupVersion struct {
	gv        schema.GroupVersion
	resources []Resource
	doc       []byte
	hash      string
}

// Build checks resources and prepares their documents. It does not
// generate them: that happens on the first Index or Get, so server start
// does not pay for it. Build keeps the slices inside resources; the caller
// must not change them afterwards. Errors are about the input only;
// generation itself cannot fail.
func Build(resources []Resource) (*Documents, error) {
	d := &Documents{gvs: map[string]*groupVersion{}}
	kinds := map[reflect.Type][]gvk{}
	addKind := func(t reflect.Type, k schema.GroupVersionKind) {
		if t != nil && !slices.Contains(kinds[t], toGVK(k)) {
			kinds[t] = append(kinds[t], toGVK(k))
		}
	}
	seen := map[schema.GroupVersionResource]bool{}
	for _, r := range resources {
		if err := validate(r); err != nil {
			return nil, err
		}
		gvr := r.GVK.GroupVersion().WithResource(r.Plural)
		if seen[gvr] {
			return nil, fmt.Errorf("openapi: resource %s listed twice", gvr)
		}
		seen[gvr] = true
		path := groupVersionPath(r.GVK.GroupVersion())
		gv := d.gvs[path]
		if gv == nil {
			gv = &groupVersion{gv: r.GVK.GroupVersion()}
			d.gvs[path] = gv
			d.paths = append(d.paths, path)
		}
		gv.resources = append(gv.resources, r)
		addKind(r.Type, r.GVK)
		if r.ListType != nil {
			addKind(r.ListType, r.GVK.GroupVersion().WithKind(r.ListType.Name()))
		}
		for _, s := range r.Subresources {
			addKind(s.Type, subresourceGVK(r, s))
		}
	}
	slices.Sort(d.paths)
	for t, gvks := range metaKinds(d.groupVersions()) {
		kinds[t] = gvks
	}
	for _, gvks := range kinds {
		slices.SortFunc(gvks, func(a, b gvk) int {
			return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Kind, b.Kind))
		})
	}
	d.gen = newGenerator(kinds)
	return d, nil
}

func validate(r Resource) error {
	switch {
	case r.GVK.Kind == "" || r.GVK.Version == "" || r.Plural == "":
		return fmt.Errorf("openapi: resource %q of %v needs a kind, a version and a plural", r.Plural, r.GVK)
	case r.Type == nil || r.Type.Kind() != reflect.Struct:
		return fmt.Errorf("openapi: resource %s: Type must be a struct type, not %v", r.Plural, r.Type)
	case r.ListType == nil && (slices.Contains(r.Verbs, "list") || slices.Contains(r.Verbs, "watch")):
		return fmt.Errorf("openapi: resource %s lists or watches but has no ListType", r.Plural)
	case r.ListType != nil && r.ListType.Kind() != reflect.Struct:
		return fmt.Errorf("openapi: resource %s: ListType must be a struct type, not %v", r.Plural, r.ListType)
	}
	for _, s := range r.Subresources {
		if s.Name == "" || strings.Contains(s.Name, "/") {
			return fmt.Errorf("openapi: resource %s: bad subresource name %q", r.Plural, s.Name)
		}
		if s.Type != nil && s.Type.Kind() != reflect.Struct {
			return fmt.Errorf("openapi: subresource %s/%s: Type must be a struct type", r.Plural, s.Name)
		}
		if s.Type == nil && !isStreaming(s.Name) && subresourceGVK(r, s) != r.GVK {
			return fmt.Errorf("openapi: subresource %s/%s of kind %s needs a Type", r.Plural, s.Name, s.GVK.Kind)
		}
		for _, v := range s.Verbs {
			if v == "list" || v == "watch" || v == "deletecollection" {
				return fmt.Errorf("openapi: subresource %s/%s cannot %s", r.Plural, s.Name, v)
			}
		}
	}
	return nil
}

// Index is the body of GET /openapi/v3.
func (d *Documents) Index() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.index == nil {
		type entry struct {
			URL string `json:"serverRelativeURL"`
		}
		paths := map[string]entry{}
		for _, p := range d.paths {
			_, hash := d.generate(p)
			paths[p] = entry{URL: "/openapi/v3/" + p + "?hash=" + hash}
		}
		d.index, _ = json.Marshal(map[string]any{"paths": paths})
	}
	return d.index
}

// Get returns the document of a group-version path ("api/v1",
// "apis/apps/v1") and its hash, the upper-case hex SHA-512 of the document.
// ok is false for a group-version without resources.
func (d *Documents) Get(groupVersionPath string) (doc []byte, hash string, ok bool) {
	if _, ok := d.gvs[groupVersionPath]; !ok {
		return nil, "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	doc, hash = d.generate(groupVersionPath)
	return doc, hash, true
}

// generate returns the document of path, generating it on first use.
// d.mu must be held.
func (d *Documents) generate(path string) ([]byte, string) {
	gv := d.gvs[path]
	if gv.doc == nil {
		gv.doc = d.gen.document(gv.gv, gv.resources)
		sum := sha512.Sum512(gv.doc)
		gv.hash = strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	return gv.doc, gv.hash
}

func (d *Documents) groupVersions() []schema.GroupVersion {
	var gvs []schema.GroupVersion
	for _, p := range d.paths {
		gvs = append(gvs, d.gvs[p].gv)
	}
	return gvs
}

func groupVersionPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func toGVK(k schema.GroupVersionKind) gvk {
	return gvk{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// subresourceGVK is the kind a subresource reads and writes.
func subresourceGVK(r Resource, s Subresource) schema.GroupVersionKind {
	k := s.GVK
	if k.Kind == "" {
		return r.GVK
	}
	if k.Group == "" && k.Version == "" {
		k.Group, k.Version = r.GVK.Group, r.GVK.Version
	}
	return k
}
