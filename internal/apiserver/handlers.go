package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/storage"
)

// serveResource routes a resource request to its verb and subresource.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	ep := s.endpoints[schema.GroupVersionResource{Group: ri.APIGroup, Version: ri.APIVersion, Resource: ri.Resource}]
	if ep == nil {
		s.writeError(w, r, errNoRoute())
		return
	}
	ns := ri.Namespace
	if !ep.res.Namespaced {
		if ri.Resource != "namespaces" && ns != "" {
			s.writeError(w, r, errNoRoute())
			return
		}
		ns = ""
	} else if ns == "" && ri.Name != "" || ns == "" && ri.Verb != "list" && ri.Verb != "watch" {
		s.writeError(w, r, errNoRoute())
		return
	}
	ctx := r.Context()
	if ri.Subresource != "" {
		s.serveSubresource(ctx, w, r, ri, ep, ns)
		return
	}
	if len(ri.Parts) > 2 {
		s.writeError(w, r, apierrors.NewNotFound(ep.res.GroupResource(), ri.Name))
		return
	}
	switch ri.Verb {
	case "get":
		s.serveGet(ctx, w, r, ep, ns, ri.Name)
	case "list":
		s.serveList(ctx, w, r, ep, ns)
	case "watch":
		s.serveWatch(ctx, w, r, ep, ns, ri.Name)
	case "create":
		if ri.Name != "" {
			s.writeError(w, r, methodNotAllowed("POST", ep.res.Resource))
			return
		}
		s.serveCreate(ctx, w, r, ep, ns)
	case "update":
		s.serveUpdate(ctx, w, r, ep, ns, ri.Name, updateMain)
	case "patch":
		s.servePatch(ctx, w, r, ep, ns, ri.Name, updateMain)
	case "delete":
		s.serveDelete(ctx, w, r, ep, ns, ri.Name)
	case "deletecollection":
		s.serveDeleteCollection(ctx, w, r, ep, ns)
	default:
		s.writeError(w, r, methodNotAllowed(r.Method, ep.res.Resource))
	}
}

func methodNotAllowed(method, resource string) error {
	return apierrors.NewMethodNotSupported(schema.GroupResource{Resource: resource}, strings.ToLower(method))
}

func (s *Server) serveGet(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	obj := ep.res.New()
	opts := storage.GetOptions{ResourceVersion: r.URL.Query().Get("resourceVersion")}
	if err := ep.store.Get(ctx, ep.key(ns, name), opts, obj); err != nil {
		s.writeError(w, r, toAPIError(err, ep.res.GroupResource(), name))
		return
	}
	s.writeResource(w, r, ep, http.StatusOK, obj)
}

// listOptions parses the query of a list or watch.
type listOptions struct {
	labels          labels.Selector
	fields          fields.Selector
	resourceVersion string
	rvMatch         string
	limit           int64
	cont            string
	// watch only
	timeoutSeconds    int64
	allowBookmarks    bool
	sendInitialEvents *bool
}

func (s *Server) parseListOptions(r *http.Request, ep *endpoint) (listOptions, error) {
	return parseListQuery(r.URL.Query(), ep)
}

// parseListQuery reads and checks a list or watch request's options.
func parseListQuery(q url.Values, ep *endpoint) (listOptions, error) {
	var o listOptions
	var err error
	if o.labels, err = labels.Parse(q.Get("labelSelector")); err != nil {
		return o, apierrors.NewBadRequest(err.Error())
	}
	if o.fields, err = fields.ParseSelector(q.Get("fieldSelector")); err != nil {
		return o, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	for _, req := range o.fields.Requirements() {
		if !ep.fieldLabels[req.Field] {
			return o, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
		}
	}
	o.resourceVersion = q.Get("resourceVersion")
	o.rvMatch = q.Get("resourceVersionMatch")
	o.cont = q.Get("continue")
	if v := q.Get("limit"); v != "" {
		if o.limit, err = strconv.ParseInt(v, 10, 64); err != nil || o.limit < 0 {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", v))
		}
	}
	if v := q.Get("timeoutSeconds"); v != "" {
		if o.timeoutSeconds, err = strconv.ParseInt(v, 10, 64); err != nil || o.timeoutSeconds < 0 {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
	}
	o.allowBookmarks = q.Get("allowWatchBookmarks") == "true"
	if v := q.Get("sendInitialEvents"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid sendInitialEvents %q", v))
		}
		o.sendInitialEvents = &b
	}
	switch o.rvMatch {
	case "", string(metav1.ResourceVersionMatchNotOlderThan), string(metav1.ResourceVersionMatchExact):
	default:
		return o, invalidListOption("resourceVersionMatch", o.rvMatch, "must be one of NotOlderThan, Exact")
	}
	if o.rvMatch != "" && o.resourceVersion == "" && o.sendInitialEvents == nil {
		return o, invalidListOption("resourceVersionMatch", o.rvMatch, "resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if o.rvMatch == string(metav1.ResourceVersionMatchExact) && o.resourceVersion == "0" {
		return o, invalidListOption("resourceVersionMatch", o.rvMatch, "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
	}
	if o.cont != "" && o.resourceVersion != "" && o.resourceVersion != "0" {
		return o, invalidListOption("resourceVersion", o.resourceVersion, "specifying resource version is not allowed when using continue")
	}
	if o.resourceVersion != "" {
		if _, err := strconv.ParseUint(o.resourceVersion, 10, 64); err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", o.resourceVersion))
		}
	}
	return o, nil
}

func invalidListOption(name, value, msg string) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "",
		field.ErrorList{field.Invalid(field.NewPath(name), value, msg)})
}

// predicate selects objects by the request's label and field selectors.
func (ep *endpoint) predicate(o listOptions) storage.Predicate {
	if o.labels.Empty() && o.fields.Empty() {
		return nil
	}
	return func(obj runtime.Object) (bool, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, err
		}
		if !o.labels.Matches(labels.Set(m.GetLabels())) {
			return false, nil
		}
		if o.fields.Empty() {
			return true, nil
		}
		return o.fields.Matches(ep.fieldSet(obj)), nil
	}
}

// singleName returns the name a metadata.name=X field selector pins, so
// a list can read one key instead of a range.
func singleName(o listOptions) (string, bool) {
	return o.fields.RequiresExactMatch("metadata.name")
}

func (s *Server) serveList(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns string) {
	o, err := s.parseListOptions(r, ep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.list(ctx, ep, ns, o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResource(w, r, ep, http.StatusOK, list)
}

func (s *Server) list(ctx context.Context, ep *endpoint, ns string, o listOptions) (runtime.Object, error) {
	list := ep.res.NewList()
	opts := storage.ListOptions{
		ResourceVersion:      o.resourceVersion,
		ResourceVersionMatch: o.rvMatch,
		Limit:                o.limit,
		Continue:             o.cont,
		Predicate:            ep.predicate(o),
		Recursive:            true,
		IndexValue:           ep.indexValue(o),
	}
	key := ep.listKey(ns)
	if name, ok := singleName(o); ok && (ns != "" || !ep.res.Namespaced) {
		key, opts.Recursive = ep.key(ns, name), false
	}
	if err := ep.store.List(ctx, key, opts, list); err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), "")
	}
	return list, nil
}

func (s *Server) serveCreate(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns string) {
	o, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, warnings, err := s.decodeBody(r, ep, o.fieldValidation)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.create(ctx, ep, ns, obj, o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	s.writeResource(w, r, ep, http.StatusCreated, out)
}

func (s *Server) serveUpdate(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string, kind updateKind) {
	o, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, warnings, err := s.decodeBody(r, ep, o.fieldValidation)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.update(ctx, ep, ns, name, kind, o, func(_ context.Context, _ runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	s.writeResource(w, r, ep, http.StatusOK, out)
}

// deleteOptions reads DeleteOptions from the body (any encoding, with or
// without kind) or from query parameters.
func (s *Server) deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		// DeleteOptions are registered in every group version; accept
		// whichever the client named, or none.
		info, ok := s.serializerFor(requestMediaType(r))
		if !ok {
			return nil, errUnsupportedMediaType(requestMediaType(r))
		}
		defaults := schema.GroupVersionKind{Version: "v1", Kind: "DeleteOptions"}
		obj, _, err := info.Serializer.Decode(data, &defaults, opts)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding DeleteOptions: %v", err))
		}
		o, ok := obj.(*metav1.DeleteOptions)
		if !ok {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("expected DeleteOptions, got %T", obj))
		}
		opts = o
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		g, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", v))
		}
		opts.GracePeriodSeconds = &g
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid orphanDependents %q", v))
		}
		opts.OrphanDependents = &b
	}
	if vs := q["dryRun"]; len(vs) > 0 {
		opts.DryRun = vs
	}
	return opts, nil
}

func (s *Server) serveDelete(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	opts, err := s.deleteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := validateDeleteOptions(opts); err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.delete(ctx, ep, ns, name, opts, len(opts.DryRun) > 0)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResource(w, r, ep, http.StatusOK, out)
}

func (s *Server) serveDeleteCollection(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns string) {
	opts, err := s.deleteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := validateDeleteOptions(opts); err != nil {
		s.writeError(w, r, err)
		return
	}
	lo, err := s.parseListOptions(r, ep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.list(ctx, ep, ns, lo)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	var deleted []runtime.Object
	for _, item := range items {
		m, _ := meta.Accessor(item)
		out, err := s.delete(ctx, ep, m.GetNamespace(), m.GetName(), opts.DeepCopy(), len(opts.DryRun) > 0)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		deleted = append(deleted, out)
	}
	result := ep.res.NewList()
	if err := meta.SetList(result, deleted); err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	s.writeResource(w, r, ep, http.StatusOK, result)
}
