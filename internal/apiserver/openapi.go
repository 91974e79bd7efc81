package apiserver

import (
	"net/http"
	"reflect"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/apiserver/openapi"
	"github.com/skiff-sh/skiff/internal/apiserver/resources"
)

// openapiServer serves /openapi/v3, built on first use so the server
// starts without paying for schema generation.
type openapiServer struct {
	scheme *runtime.Scheme
	once   sync.Once
	res    []*resources.Resource
	docs   *openapi.Documents
	err    error
}

func newOpenAPIServer(scheme *runtime.Scheme, all []*resources.Resource) *openapiServer {
	return &openapiServer{scheme: scheme, res: all}
}

func (o *openapiServer) build() (*openapi.Documents, error) {
	o.once.Do(func() {
		var in []openapi.Resource
		for _, res := range o.res {
			r := openapi.Resource{
				GVK:        res.GVK(),
				Plural:     res.Resource,
				Namespaced: res.Namespaced,
				Type:       reflect.TypeOf(res.New()).Elem(),
				ListType:   reflect.TypeOf(res.NewList()).Elem(),
				Verbs:      mainVerbs,
			}
			for _, sr := range subresources(res) {
				t := r.Type
				if sr.Kind != res.GVK() {
					t = nil
					if obj, err := o.scheme.New(sr.Kind); err == nil && !isConnect(sr.Name) {
						t = reflect.TypeOf(obj).Elem()
					}
				}
				r.Subresources = append(r.Subresources, openapi.Subresource{Name: sr.Name, GVK: sr.Kind, Type: t, Verbs: sr.Verbs})
			}
			in = append(in, r)
		}
		o.docs, o.err = openapi.Build(in)
	})
	return o.docs, o.err
}

func (o *openapiServer) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/openapi/")
	if p != "v3" && !strings.HasPrefix(p, "v3/") {
		// v2 is protobuf-only upstream; kubectl treats 404 as "not served".
		http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
		return
	}
	docs, err := o.build()
	if err != nil {
		writeStatusJSON(w, apierrors.NewInternalError(err))
		return
	}
	if p == "v3" || p == "v3/" {
		writeJSONBytes(w, mediaJSON, docs.Index())
		return
	}
	doc, hash, ok := docs.Get(strings.TrimPrefix(p, "v3/"))
	if !ok {
		writeStatusJSON(w, errNoRoute())
		return
	}
	w.Header().Set("Etag", `"`+hash+`"`)
	if r.URL.Query().Get("hash") == hash {
		w.Header().Set("Cache-Control", "public, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	if r.Header.Get("If-None-Match") == `"`+hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSONBytes(w, mediaJSON, doc)
}

func writeStatusJSON(w http.ResponseWriter, err error) {
	st := statusOf(err)
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(mustJSON(&st))
}

// isConnect names the subresources served by streaming to the kubelet.
func isConnect(name string) bool {
	switch name {
	case "log", "exec", "attach", "portforward", "proxy":
		return true
	}
	return false
}
