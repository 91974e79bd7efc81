package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// TestEveryRefResolves walks each document and checks that every $ref
// names a schema of the same document.
func TestEveryRefResolves(t *testing.T) {
	d := build(t, fullResources())
	for _, path := range d.paths {
		doc, _, _ := d.Get(path)
		var v map[string]any
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		defined := v["components"].(map[string]any)["schemas"].(map[string]any)
		refs := 0
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				if r, ok := x["$ref"].(string); ok {
					refs++
					if _, ok := defined[strings.TrimPrefix(r, "#/components/schemas/")]; !ok || !strings.HasPrefix(r, "#/components/schemas/") {
						t.Errorf("%s: dangling $ref %s", path, r)
					}
				}
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
		if refs == 0 {
			t.Errorf("%s has no $ref at all", path)
		}
	}
}

// serve serves the documents over HTTP the way the API server does.
func serve(t *testing.T, d *Documents) *rest.Config {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/openapi/v3" {
			w.Write(d.Index())
			return
		}
		doc, _, ok := d.Get(strings.TrimPrefix(r.URL.Path, "/openapi/v3/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

// TestClientGo reads the documents with client-go's OpenAPI v3 client, as
// kubectl does, and builds the structured-merge-diff type converter that
// server-side apply uses from their schemas.
func TestClientGo(t *testing.T) {
	client := discovery.NewDiscoveryClientForConfigOrDie(serve(t, build(t, fullResources()))).OpenAPIV3()
	root := openapi3.NewRoot(client)
	gvs, err := root.GroupVersions()
	if err != nil || len(gvs) != 5 {
		t.Fatalf("GroupVersions = %v, %v", gvs, err)
	}
	apps, err := root.GVSpec(appsv1.SchemeGroupVersion)
	if err != nil || apps.Components.Schemas["io.k8s.api.apps.v1.Deployment"] == nil {
		t.Fatalf("GVSpec(apps/v1): %v", err)
	}

	tc, err := openapi.NewTypeConverter(client, false)
	if err != nil {
		t.Fatalf("type converter: %v", err)
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "dns", Labels: map[string]string{"app": "dns"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "dns", Image: "dns:1",
			// One port, two protocols: only the compound list key accepts it.
			Ports: []corev1.ContainerPort{{ContainerPort: 53, Protocol: "UDP"}, {ContainerPort: 53, Protocol: "TCP"}}}}},
	}
	if _, err := tc.ObjectToTyped(pod); err != nil {
		t.Errorf("pod does not convert: %v", err)
	}
	// An applied configuration may leave out the protocol key: its default
	// stands in.
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	typed, err := tc.ObjectToTyped(pod)
	if err != nil {
		t.Fatalf("port without protocol does not convert: %v", err)
	}
	fields, err := typed.ToFieldSet()
	if err != nil || !strings.Contains(fields.String(), `ports[containerPort=80,protocol="TCP"]`) {
		t.Errorf("port without protocol is not keyed as TCP: %v %s", err, fields)
	}
	pod.Spec.Containers = append(pod.Spec.Containers, pod.Spec.Containers[0])
	if _, err := tc.ObjectToTyped(pod); err == nil {
		t.Error("duplicate container names were accepted: list-map keys are not in effect")
	}
}

// TestStrategicMergePatchFromSchemas computes an apply patch from the
// schemas, as kubectl apply does with OpenAPI v3, and compares it with the
// patch computed from the Go struct tags.
func TestStrategicMergePatchFromSchemas(t *testing.T) {
	doc := parse(t, build(t, testResources()), "apis/apps/v1")
	var deployment *spec.Schema
	for _, s := range doc.Components.Schemas {
		if kinds, _ := s.Extensions["x-kubernetes-group-version-kind"].([]any); len(kinds) == 1 &&
			kinds[0].(map[string]any)["kind"] == "Deployment" {
			deployment = s
		}
	}
	if deployment == nil {
		t.Fatal("no schema with kind Deployment")
	}
	fromSchema := strategicpatch.PatchMetaFromOpenAPIV3{SchemaList: doc.Components.Schemas, Schema: deployment}
	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	original := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{
		"containers":[{"name":"a","image":"a:1","ports":[{"containerPort":80}]},{"name":"b","image":"b:1"}],
		"volumes":[{"name":"v","emptyDir":{}}]}}}}`
	modified := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{
		"containers":[{"name":"a","image":"a:2","ports":[{"containerPort":80},{"containerPort":443}]}],
		"volumes":[{"name":"v","hostPath":{"path":"/x"}}]}}}}`
	want, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(original), fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(original), fromSchema, false)
	if err != nil {
		t.Fatalf("patch from schemas: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("patch from schemas\n%s\nfrom struct tags\n%s", got, want)
	}
	if !strings.Contains(string(got), "$setElementOrder/containers") || !strings.Contains(string(got), "$retainKeys") {
		t.Errorf("patch lacks strategic directives: %s", got)
	}
}
