package openapi

import (
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Media types of request and response bodies.
var (
	objectMedia = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	listMedia   = append(slices.Clone(objectMedia),
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
	patchMedia = []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml"}
)

var (
	statusType          = reflect.TypeFor[metav1.Status]()
	deleteOptionsType   = reflect.TypeFor[metav1.DeleteOptions]()
	patchType           = reflect.TypeFor[metav1.Patch]()
	watchEventType      = reflect.TypeFor[metav1.WatchEvent]()
	apiResourceListType = reflect.TypeFor[metav1.APIResourceList]()
)

// An endpoint is one operation of a resource: the HTTP method, the verb
// that starts its operation id, its x-kubernetes-action, the start of its
// description, and its query parameters. The deprecated /watch/ paths use
// "watch" (one object) and "watchlist".
type endpoint struct {
	method, idVerb, action, desc string
	query                        []parameter
}

var endpoints = map[string]endpoint{
	"list":             {"GET", "list", "list", "list or watch ", listParams},
	"watchlist":        {"GET", "watch", "watchlist", "stream changes to ", listParams},
	"watch":            {"GET", "watch", "watch", "stream changes to ", listParams},
	"create":           {"POST", "create", "post", "create ", createParams},
	"deletecollection": {"DELETE", "delete", "deletecollection", "delete a collection of ", deleteCollectionParams},
	"get":              {"GET", "read", "get", "read ", nil},
	"update":           {"PUT", "replace", "put", "replace ", updateParams},
	"patch":            {"PATCH", "patch", "patch", "partially update ", patchParams},
	"delete":           {"DELETE", "delete", "delete", "delete ", deleteParams},
}

// pathBuilder builds the paths of one group-version and records the types
// its operations refer to.
type pathBuilder struct {
	g      *generator
	gv     schema.GroupVersion
	prefix string // "/api/v1", "/apis/apps/v1"
	id     string // operation id infix: "CoreV1", "AppsV1"
	tags   []string
	items  map[string]*pathItem
	roots  []reflect.Type
}

func newPathBuilder(g *generator, gv schema.GroupVersion) *pathBuilder {
	group := groupTitle(gv.Group)
	p := &pathBuilder{g: g, gv: gv, prefix: "/" + groupVersionPath(gv), id: group + title(gv.Version),
		tags: []string{strings.ToLower(group[:1]) + group[1:] + "_" + gv.Version}, items: map[string]*pathItem{}}
	p.item(p.prefix+"/", nil).Get = &operation{Tags: p.tags, OperationID: "get" + p.id + "APIResources",
		Description: "list the resources of this group-version", Responses: p.responses(apiResourceListType, objectMedia, "200")}
	return p
}

// addResource adds the paths of r and its subresources.
func (p *pathBuilder) addResource(r Resource) {
	kind, scope := r.GVK.Kind, ""
	collection, watch := p.prefix+"/"+r.Plural, p.prefix+"/watch/"+r.Plural
	params := []parameter{prettyParam}
	if r.Namespaced {
		scope = "Namespaced"
		collection = p.prefix + "/namespaces/{namespace}/" + r.Plural
		watch = p.prefix + "/watch/namespaces/{namespace}/" + r.Plural
		params = []parameter{namespaceParam, prettyParam}
	}
	itemParams := append([]parameter{nameParam(kind)}, params...)
	add := func(path string, params []parameter, verb, idSuffix string) {
		what := "objects of kind " + kind
		switch verb {
		case "create":
			what = "an object of kind " + kind
		case "get", "update", "patch", "delete", "watch":
			what = "the named " + kind
		}
		p.add(path, params, verb, scope+kind+idSuffix, what, toGVK(r.GVK), r.Type, r.ListType)
	}
	for _, verb := range r.Verbs {
		switch verb {
		case "list", "create", "deletecollection":
			add(collection, params, verb, "")
		case "get", "update", "patch", "delete":
			add(collection+"/{name}", itemParams, verb, "")
		case "watch":
			add(watch, params, "watchlist", "List")
			add(watch+"/{name}", itemParams, "watch", "")
		}
	}
	all := "objects of kind " + kind + " in all namespaces"
	if r.Namespaced && slices.Contains(r.Verbs, "list") {
		p.add(p.prefix+"/"+r.Plural, []parameter{prettyParam}, "list", kind+"ForAllNamespaces", all, toGVK(r.GVK), r.Type, r.ListType)
	}
	if r.Namespaced && slices.Contains(r.Verbs, "watch") {
		p.add(p.prefix+"/watch/"+r.Plural, []parameter{prettyParam}, "watchlist", kind+"ListForAllNamespaces", all, toGVK(r.GVK), r.Type, r.ListType)
	}
	for _, s := range r.Subresources {
		path, suffix := collection+"/{name}/"+s.Name, scope+kind+title(s.Name)
		if s.Type == nil && isStreaming(s.Name) {
			p.addConnect(r, s, path, suffix, itemParams)
			continue
		}
		t := s.Type
		if t == nil {
			t = r.Type
		}
		for _, verb := range s.Verbs {
			p.add(path, itemParams, verb, suffix, "the "+s.Name+" of the named "+kind, toGVK(subresourceGVK(r, s)), t, nil)
		}
	}
}

// add puts the operation for verb on objects of type t (lists of type
// list) at path; idSuffix ends its operation id and what its description.
func (p *pathBuilder) add(path string, params []parameter, verb, idSuffix, what string, k gvk, t, list reflect.Type) {
	e, ok := endpoints[verb]
	if !ok {
		return
	}
	if verb == "deletecollection" {
		idSuffix = "Collection" + idSuffix
	}
	o := &operation{Tags: p.tags, Description: e.desc + what, OperationID: e.idVerb + p.id + idSuffix,
		Action: e.action, GVK: &k, Parameters: e.query}
	switch verb {
	case "list":
		o.Responses = p.responses(list, listMedia, "200")
	case "watch", "watchlist":
		o.Responses = p.responses(watchEventType, listMedia, "200")
	case "get":
		o.Responses = p.responses(t, objectMedia, "200")
	case "create":
		o.RequestBody = &requestBody{Content: p.content(t, objectMedia), Required: true}
		o.Responses = p.responses(t, objectMedia, "200", "201", "202")
	case "update":
		o.RequestBody = &requestBody{Content: p.content(t, objectMedia), Required: true}
		o.Responses = p.responses(t, objectMedia, "200", "201")
	case "patch":
		o.RequestBody = &requestBody{Content: p.content(patchType, patchMedia), Required: true}
		o.Responses = p.responses(t, objectMedia, "200", "201")
	case "delete":
		o.RequestBody = &requestBody{Content: p.content(deleteOptionsType, objectMedia)}
		o.Responses = p.responses(statusType, objectMedia, "200", "202")
	case "deletecollection":
		o.RequestBody = &requestBody{Content: p.content(deleteOptionsType, objectMedia)}
		o.Responses = p.responses(statusType, objectMedia, "200")
	}
	p.item(path, params).set(e.method, o)
}

// item returns the path item at path, creating it with params.
func (p *pathBuilder) item(path string, params []parameter) *pathItem {
	it := p.items[path]
	if it == nil {
		it = &pathItem{Parameters: params}
		p.items[path] = it
	}
	return it
}

// set puts o under an HTTP method.
func (it *pathItem) set(method string, o *operation) {
	switch method {
	case "GET":
		it.Get = o
	case "POST":
		it.Post = o
	case "PUT":
		it.Put = o
	case "PATCH":
		it.Patch = o
	case "DELETE":
		it.Delete = o
	}
}

// content is a request or response body carrying a t in each of media. It
// records t as a root of the document's schemas.
func (p *pathBuilder) content(t reflect.Type, media []string) map[string]mediaType {
	p.roots = append(p.roots, t)
	s := ref(p.g.define(t).name)
	content := make(map[string]mediaType, len(media))
	for _, m := range media {
		content[m] = mediaType{Schema: s}
	}
	return content
}

// responses answers each of codes with a t, and 401 without a body.
func (p *pathBuilder) responses(t reflect.Type, media []string, codes ...string) map[string]*response {
	content := p.content(t, media)
	rs := map[string]*response{"401": unauthorized}
	for _, c := range codes {
		rs[c] = &response{Description: statusText[c], Content: content}
	}
	return rs
}

var (
	unauthorized = &response{Description: "Unauthorized"}
	statusText   = map[string]string{"200": "OK", "201": "Created", "202": "Accepted"}
)

// groupTitle is a group's name in operation ids: "" is Core,
// "rbac.authorization.k8s.io" is RbacAuthorization.
func groupTitle(group string) string {
	if group == "" {
		return "Core"
	}
	var b strings.Builder
	for part := range strings.SplitSeq(strings.TrimSuffix(group, ".k8s.io"), ".") {
		b.WriteString(title(part))
	}
	return b.String()
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
