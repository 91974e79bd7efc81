package openapi

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
)

func build(t testing.TB, rs []Resource) *Documents {
	t.Helper()
	d, err := Build(rs)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// parse returns the document of path as spec3 types, as kubectl reads it.
func parse(t testing.TB, d *Documents, path string) *spec3.OpenAPI {
	t.Helper()
	doc, _, ok := d.Get(path)
	if !ok {
		t.Fatalf("no document %s", path)
	}
	var s spec3.OpenAPI
	if err := json.Unmarshal(doc, &s); err != nil {
		t.Fatalf("%s does not parse as OpenAPI v3: %v", path, err)
	}
	return &s
}

func TestIndex(t *testing.T) {
	d := build(t, testResources())
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(d.Index(), &index); err != nil {
		t.Fatal(err)
	}
	var got []string
	for path, entry := range index.Paths {
		got = append(got, path)
		doc, hash, ok := d.Get(path)
		if !ok {
			t.Fatalf("index lists %s but Get does not serve it", path)
		}
		sum := sha512.Sum512(doc)
		if want := strings.ToUpper(hex.EncodeToString(sum[:])); hash != want {
			t.Errorf("%s: hash %s, want the SHA-512 of the document %s", path, hash, want)
		}
		if want := "/openapi/v3/" + path + "?hash=" + hash; entry.ServerRelativeURL != want {
			t.Errorf("%s: serverRelativeURL %q, want %q", path, entry.ServerRelativeURL, want)
		}
	}
	slices.Sort(got)
	if want := []string{"api/v1", "apis/apps/v1", "apis/events.k8s.io/v1"}; !slices.Equal(got, want) {
		t.Errorf("index paths %v, want %v", got, want)
	}
	if _, _, ok := d.Get("apis/batch/v1"); ok {
		t.Error("Get serves a group-version without resources")
	}
	if again, _, _ := d.Get("api/v1"); !json.Valid(again) || string(d.Index()) != string(d.Index()) {
		t.Error("documents are not stable")
	}
}

func TestDeploymentPatchOperation(t *testing.T) {
	s := parse(t, build(t, testResources()), "apis/apps/v1")
	if s.Version != "3.0.0" || s.Info.Title != "Kubernetes" || s.Info.Version != "v1.32.0" {
		t.Errorf("openapi %q info %+v", s.Version, s.Info.InfoProps)
	}
	path := s.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
	if path == nil || path.Patch == nil {
		t.Fatal("no PATCH of a deployment")
	}
	op := path.Patch
	if got := op.Extensions["x-kubernetes-group-version-kind"]; !reflect.DeepEqual(got,
		map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"}) {
		t.Errorf("x-kubernetes-group-version-kind = %v", got)
	}
	if got := op.Extensions["x-kubernetes-action"]; got != "patch" {
		t.Errorf("x-kubernetes-action = %v", got)
	}
	if op.OperationId != "patchAppsV1NamespacedDeployment" {
		t.Errorf("operationId %s", op.OperationId)
	}
	var query []string
	for _, p := range op.Parameters {
		if p.In == "query" {
			query = append(query, p.Name)
		}
	}
	for _, want := range []string{"dryRun", "fieldManager", "fieldValidation", "force"} {
		if !slices.Contains(query, want) {
			t.Errorf("PATCH lacks query parameter %s (has %v)", want, query)
		}
	}
	var pathParams []string
	for _, p := range path.Parameters {
		pathParams = append(pathParams, p.In+":"+p.Name)
	}
	if want := []string{"path:name", "path:namespace", "query:pretty"}; !slices.Equal(pathParams, want) {
		t.Errorf("path parameters %v, want %v", pathParams, want)
	}
	var media []string
	for m, c := range op.RequestBody.Content {
		media = append(media, m)
		if c.Schema.Ref.String() != "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch" {
			t.Errorf("%s body schema %v", m, c.Schema.Ref.String())
		}
	}
	slices.Sort(media)
	if want := []string{"application/apply-patch+yaml", "application/json-patch+json",
		"application/merge-patch+json", "application/strategic-merge-patch+json"}; !slices.Equal(media, want) {
		t.Errorf("PATCH media %v, want %v", media, want)
	}
	ok := op.Responses.StatusCodeResponses[200]
	if ok == nil || ok.Content["application/json"].Schema.Ref.String() != "#/components/schemas/io.k8s.api.apps.v1.Deployment" {
		t.Errorf("PATCH 200 response %+v", ok)
	}
	scale := s.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
	if got := scale.Put.Extensions["x-kubernetes-group-version-kind"]; !reflect.DeepEqual(got,
		map[string]any{"group": "autoscaling", "version": "v1", "kind": "Scale"}) {
		t.Errorf("scale PUT kind %v", got)
	}
	if _, ok := s.Components.Schemas["io.k8s.api.autoscaling.v1.Scale"]; !ok {
		t.Error("no Scale schema")
	}
}

// TestFieldValidationForEveryKind applies kubectl's test for server-side
// field validation: the first PATCH operation it finds for a kind must
// declare fieldValidation, so every one of them must.
func TestFieldValidationForEveryKind(t *testing.T) {
	rs := fullResources()
	d := build(t, rs)
	docs := map[string]*spec3.OpenAPI{}
	for _, r := range rs {
		path := groupVersionPath(r.GVK.GroupVersion())
		if docs[path] == nil {
			docs[path] = parse(t, d, path)
		}
		s := docs[path]
		found := 0
		for path, item := range s.Paths.Paths {
			if item.Patch == nil || !hasGVK(item.Patch.Extensions, r.GVK) {
				continue
			}
			found++
			if !slices.ContainsFunc(item.Patch.Parameters, func(p *spec3.Parameter) bool {
				return p.Name == "fieldValidation" && p.In == "query"
			}) {
				t.Errorf("PATCH %s (%v) lacks fieldValidation", path, r.GVK)
			}
		}
		if found == 0 {
			t.Errorf("no PATCH operation for %v", r.GVK)
		}
	}
}

func hasGVK(ext map[string]any, k schema.GroupVersionKind) bool {
	m, _ := ext["x-kubernetes-group-version-kind"].(map[string]any)
	return m["group"] == k.Group && m["version"] == k.Version && m["kind"] == k.Kind
}

func TestPodOperations(t *testing.T) {
	s := parse(t, build(t, testResources()), "api/v1")
	type want struct{ method, path, id, action, kind string }
	for _, w := range []want{
		{"GET", "/api/v1/pods", "listCoreV1PodForAllNamespaces", "list", "Pod"},
		{"GET", "/api/v1/namespaces/{namespace}/pods", "listCoreV1NamespacedPod", "list", "Pod"},
		{"POST", "/api/v1/namespaces/{namespace}/pods", "createCoreV1NamespacedPod", "post", "Pod"},
		{"DELETE", "/api/v1/namespaces/{namespace}/pods", "deleteCoreV1CollectionNamespacedPod", "deletecollection", "Pod"},
		{"GET", "/api/v1/namespaces/{namespace}/pods/{name}", "readCoreV1NamespacedPod", "get", "Pod"},
		{"PUT", "/api/v1/namespaces/{namespace}/pods/{name}", "replaceCoreV1NamespacedPod", "put", "Pod"},
		{"DELETE", "/api/v1/namespaces/{namespace}/pods/{name}", "deleteCoreV1NamespacedPod", "delete", "Pod"},
		{"GET", "/api/v1/watch/namespaces/{namespace}/pods", "watchCoreV1NamespacedPodList", "watchlist", "Pod"},
		{"GET", "/api/v1/watch/namespaces/{namespace}/pods/{name}", "watchCoreV1NamespacedPod", "watch", "Pod"},
		{"PATCH", "/api/v1/namespaces/{namespace}/pods/{name}/status", "patchCoreV1NamespacedPodStatus", "patch", "Pod"},
		{"POST", "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "createCoreV1NamespacedPodEviction", "post", "Eviction"},
		{"POST", "/api/v1/namespaces/{namespace}/pods/{name}/binding", "createCoreV1NamespacedPodBinding", "post", "Binding"},
		{"GET", "/api/v1/namespaces/{namespace}/pods/{name}/log", "readCoreV1NamespacedPodLog", "get", "PodLogOptions"},
		{"POST", "/api/v1/namespaces/{namespace}/pods/{name}/exec", "connectCoreV1PostNamespacedPodExec", "connect", "PodExecOptions"},
		{"PUT", "/api/v1/namespaces/{name}/finalize", "replaceCoreV1NamespaceFinalize", "put", "Namespace"},
		{"PATCH", "/api/v1/namespaces/{namespace}/services/{name}/proxy", "connectCoreV1PatchNamespacedServiceProxy", "connect", "ServiceProxyOptions"},
		{"GET", "/api/v1/", "getCoreV1APIResources", "", ""},
	} {
		item := s.Paths.Paths[w.path]
		if item == nil {
			t.Errorf("no path %s", w.path)
			continue
		}
		op := map[string]*spec3.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put,
			"PATCH": item.Patch, "DELETE": item.Delete}[w.method]
		if op == nil {
			t.Errorf("no %s %s", w.method, w.path)
			continue
		}
		kind, _ := op.Extensions["x-kubernetes-group-version-kind"].(map[string]any)
		action, _ := op.Extensions["x-kubernetes-action"].(string)
		if op.OperationId != w.id || action != w.action || w.kind != "" && kind["kind"] != w.kind {
			t.Errorf("%s %s: id %s action %q kind %v, want %s %q %s", w.method, w.path, op.OperationId, action, kind, w.id, w.action, w.kind)
		}
	}
	exec := s.Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"].Get
	if !slices.ContainsFunc(exec.Parameters, func(p *spec3.Parameter) bool { return p.Name == "command" }) {
		t.Error("exec lacks the command parameter of PodExecOptions")
	}
	list := s.Paths.Paths["/api/v1/namespaces/{namespace}/pods"].Get
	var names []string
	for _, p := range list.Parameters {
		names = append(names, p.Name)
	}
	for _, want := range []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
		"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"} {
		if !slices.Contains(names, want) {
			t.Errorf("list lacks %s (has %v)", want, names)
		}
	}
	if got := list.Responses.StatusCodeResponses[200].Content["application/json;stream=watch"]; got == nil ||
		got.Schema.Ref.String() != "#/components/schemas/io.k8s.api.core.v1.PodList" {
		t.Errorf("list response %+v", got)
	}
	ids := map[string]string{}
	for path, item := range s.Paths.Paths {
		for _, op := range []*spec3.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			if other, dup := ids[op.OperationId]; dup {
				t.Errorf("operationId %s on %s and %s", op.OperationId, path, other)
			}
			ids[op.OperationId] = path
		}
	}
}

func TestBuildRejects(t *testing.T) {
	pod := resource[corev1.Pod, corev1.PodList]("", "v1", "Pod", "pods", true)
	noType, noList, badSub := pod, pod, pod
	noType.Type = nil
	noList.ListType = nil
	badSub.Subresources = []Subresource{{Name: "a/b"}}
	listSub, untyped := pod, pod
	listSub.Subresources = []Subresource{{Name: "status", Verbs: []string{"list"}}}
	untyped.Subresources = []Subresource{{Name: "eviction", GVK: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}}}
	for name, rs := range map[string][]Resource{
		"twice":       {pod, pod},
		"no type":     {noType},
		"no list":     {noList},
		"bad sub":     {badSub},
		"list sub":    {listSub},
		"untyped sub": {untyped},
		"pointer":     {{GVK: pod.GVK, Plural: "pods", Type: reflect.TypeFor[*corev1.Pod]()}},
		"no plural":   {{GVK: pod.GVK, Type: pod.Type}},
		"no version":  {{GVK: schema.GroupVersionKind{Kind: "Pod"}, Plural: "pods", Type: pod.Type}},
		"not struct":  {{GVK: pod.GVK, Plural: "pods", Type: reflect.TypeFor[string]()}},
		"list string": {{GVK: pod.GVK, Plural: "pods", Type: pod.Type, ListType: reflect.TypeFor[string]()}},
	} {
		if _, err := Build(rs); err == nil {
			t.Errorf("%s: Build accepted it", name)
		}
	}
	if d, err := Build(nil); err != nil || string(d.Index()) != `{"paths":{}}` {
		t.Errorf("empty: %v %s", err, d.Index())
	}
	// A resource that is never listed needs no list type.
	getOnly := pod
	getOnly.ListType, getOnly.Verbs = nil, []string{"get"}
	if _, err := Build([]Resource{getOnly}); err != nil {
		t.Errorf("get-only resource: %v", err)
	}
}

// TestConcurrentFirstUse has many requests arrive before any document is
// generated; run with -race.
func TestConcurrentFirstUse(t *testing.T) {
	d := build(t, testResources())
	var wg sync.WaitGroup
	docs := make([][]byte, 8)
	for i := range docs {
		wg.Go(func() {
			if i%2 == 0 {
				d.Index()
			}
			docs[i], _, _ = d.Get([]string{"api/v1", "apis/apps/v1"}[i%2])
		})
	}
	wg.Wait()
	for i := range docs {
		if string(docs[i]) != string(docs[i%2]) {
			t.Fatalf("request %d got a different document", i)
		}
	}
}
