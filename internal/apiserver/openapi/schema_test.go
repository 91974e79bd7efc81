package openapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// schemas returns the component schemas of a document as plain JSON.
func schemas(t testing.TB, d *Documents, path string) map[string]map[string]any {
	t.Helper()
	doc, _, _ := d.Get(path)
	var v struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	return v.Components.Schemas
}

// prop returns property name of schema s.
func prop(t testing.TB, s map[string]any, name string) map[string]any {
	t.Helper()
	p, ok := s["properties"].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("no property %s in %v", name, s["description"])
	}
	return p
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSchemaNamesAndKinds(t *testing.T) {
	d := build(t, testResources())
	core, apps := schemas(t, d, "api/v1"), schemas(t, d, "apis/apps/v1")
	for name, want := range map[string]string{
		"io.k8s.api.core.v1.Pod":                                  `[{"group":"","kind":"Pod","version":"v1"}]`,
		"io.k8s.api.core.v1.PodList":                              `[{"group":"","kind":"PodList","version":"v1"}]`,
		"io.k8s.api.policy.v1.Eviction":                           `[{"group":"policy","kind":"Eviction","version":"v1"}]`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Status":             `[{"group":"","kind":"Status","version":"v1"}]`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList":    `[{"group":"","kind":"APIResourceList","version":"v1"}]`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta":         `null`,
		"io.k8s.apimachinery.pkg.api.resource.Quantity":           `null`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Patch":              `null`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions":      `[{"group":"","kind":"DeleteOptions","version":"v1"},{"group":"apps","kind":"DeleteOptions","version":"v1"},{"group":"events.k8s.io","kind":"DeleteOptions","version":"v1"}]`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent":         `[{"group":"","kind":"WatchEvent","version":"v1"},{"group":"apps","kind":"WatchEvent","version":"v1"},{"group":"events.k8s.io","kind":"WatchEvent","version":"v1"}]`,
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString":         `null`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time":               `null`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry": `null`,
	} {
		s, ok := core[name]
		if !ok {
			t.Errorf("api/v1 has no schema %s", name)
			continue
		}
		if got := asJSON(s["x-kubernetes-group-version-kind"]); got != want {
			t.Errorf("%s kinds %s, want %s", name, got, want)
		}
	}
	if _, ok := apps["io.k8s.api.core.v1.Pod"]; ok {
		t.Error("apps/v1 includes Pod, which none of its types reach")
	}
	for _, name := range []string{"io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.PodTemplateSpec", "io.k8s.api.autoscaling.v1.Scale"} {
		if _, ok := apps[name]; !ok {
			t.Errorf("apps/v1 has no schema %s", name)
		}
	}
	// The derived naming rule agrees with every generated OpenAPIModelName.
	for typ, def := range d.gen.defs {
		if got := packageModelName(typ.PkgPath()) + "." + typ.Name(); got != def.name {
			t.Errorf("%v: derived name %s, generated %s", typ, got, def.name)
		}
	}
	if got := packageModelName("github.com/skiff-sh/skiff/api/v1-alpha"); got != "com.github.skiff_sh.skiff.api.v1_alpha" {
		t.Errorf("packageModelName = %s", got)
	}
}

func TestDescriptionsFromSwaggerDoc(t *testing.T) {
	core := schemas(t, build(t, testResources()), "api/v1")
	pod, spec := core["io.k8s.api.core.v1.Pod"], core["io.k8s.api.core.v1.PodSpec"]
	if pod["description"] != (corev1.Pod{}).SwaggerDoc()[""] || pod["description"] == "" {
		t.Errorf("Pod description %q", pod["description"])
	}
	podSpec := prop(t, pod, "spec")
	if podSpec["description"] != (corev1.Pod{}).SwaggerDoc()["spec"] ||
		asJSON(podSpec["allOf"]) != `[{"$ref":"#/components/schemas/io.k8s.api.core.v1.PodSpec"}]` ||
		asJSON(podSpec["default"]) != `{}` {
		t.Errorf("Pod.spec = %s", asJSON(podSpec))
	}
	if got := prop(t, spec, "containers")["description"]; got != (corev1.PodSpec{}).SwaggerDoc()["containers"] {
		t.Errorf("PodSpec.containers description %q", got)
	}
	// TypeMeta's fields are inlined with TypeMeta's descriptions.
	if got := prop(t, pod, "kind")["description"]; got != (metav1.TypeMeta{}).SwaggerDoc()["kind"] {
		t.Errorf("Pod.kind description %q", got)
	}
	// So are inline embedded structs: Volume holds VolumeSource's fields.
	if got := prop(t, core["io.k8s.api.core.v1.Volume"], "configMap")["description"]; got != (corev1.VolumeSource{}).SwaggerDoc()["configMap"] {
		t.Errorf("Volume.configMap description %q", got)
	}
	if _, ok := core["io.k8s.api.core.v1.VolumeSource"]; ok {
		t.Error("inlined VolumeSource has its own schema")
	}
	if core["io.k8s.apimachinery.pkg.api.resource.Quantity"]["description"] == "" {
		t.Error("Quantity has no description")
	}
}

func TestSpecialTypes(t *testing.T) {
	d := build(t, testResources())
	core := schemas(t, d, "api/v1")
	core["io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"] = schemas(t, d, "apis/events.k8s.io/v1")["io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"]
	for name, want := range map[string]string{
		"io.k8s.apimachinery.pkg.api.resource.Quantity":   `{"oneOf":[{"type":"string"},{"type":"number"}]}`,
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString": `{"format":"int-or-string","oneOf":[{"type":"integer"},{"type":"string"}],"x-kubernetes-int-or-string":true}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       `{"format":"date-time","type":"string"}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":  `{"format":"date-time","type":"string"}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1":   `{"type":"object"}`,
	} {
		s := map[string]any{}
		for k, v := range core[name] {
			if k != "description" {
				s[k] = v
			}
		}
		if got := asJSON(s); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	for _, c := range []struct{ schema, field, want string }{
		{"io.k8s.api.core.v1.ConfigMap", "binaryData", `{"additionalProperties":{"format":"byte","type":"string"},"type":"object"}`},
		{"io.k8s.api.core.v1.ConfigMap", "immutable", `{"type":"boolean"}`},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels", `{"additionalProperties":{"type":"string"},"type":"object"}`},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "generation", `{"format":"int64","type":"integer"}`},
		{"io.k8s.api.core.v1.ResourceRequirements", "limits", `{"additionalProperties":{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"},"type":"object"}`},
		{"io.k8s.api.core.v1.ContainerPort", "containerPort", `{"default":0,"format":"int32","type":"integer"}`},
		{"io.k8s.api.core.v1.ServicePort", "targetPort", `{"allOf":[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]}`},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp", `{"allOf":[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}]}`},
		{"io.k8s.api.core.v1.Container", "name", `{"default":"","type":"string"}`},
	} {
		p := map[string]any{}
		for k, v := range prop(t, core[c.schema], c.field) {
			if k != "description" {
				p[k] = v
			}
		}
		if got := asJSON(p); got != c.want {
			t.Errorf("%s.%s = %s, want %s", c.schema, c.field, got, c.want)
		}
	}
}

func TestRequiredFields(t *testing.T) {
	core := schemas(t, build(t, testResources()), "api/v1")
	for name, want := range map[string]string{
		"io.k8s.api.core.v1.Container":                    `["name"]`,
		"io.k8s.api.core.v1.PodSpec":                      `["containers"]`,
		"io.k8s.api.core.v1.PodList":                      `["items"]`,
		"io.k8s.api.core.v1.Pod":                          `null`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": `null`,
	} {
		if got := asJSON(core[name]["required"]); got != want {
			t.Errorf("%s required %s, want %s", name, got, want)
		}
	}
}

func TestStrategicMergeExtensions(t *testing.T) {
	d := build(t, testResources())
	core, apps := schemas(t, d, "api/v1"), schemas(t, d, "apis/apps/v1")
	for _, c := range []struct {
		schemas      map[string]map[string]any
		schema, name string
		want         string
	}{
		{core, "io.k8s.api.core.v1.PodSpec", "containers", `{"x-kubernetes-list-map-keys":["name"],"x-kubernetes-list-type":"map","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}`},
		{core, "io.k8s.api.core.v1.PodSpec", "volumes", `{"x-kubernetes-list-map-keys":["name"],"x-kubernetes-list-type":"map","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge,retainKeys"}`},
		{core, "io.k8s.api.core.v1.Container", "ports", `{"x-kubernetes-list-map-keys":["containerPort","protocol"],"x-kubernetes-list-type":"map","x-kubernetes-patch-merge-key":"containerPort","x-kubernetes-patch-strategy":"merge"}`},
		{core, "io.k8s.api.core.v1.EphemeralContainer", "ports", `{"x-kubernetes-list-map-keys":["containerPort","protocol"],"x-kubernetes-list-type":"map","x-kubernetes-patch-merge-key":"containerPort","x-kubernetes-patch-strategy":"merge"}`},
		{core, "io.k8s.api.core.v1.PodStatus", "hostIPs", `{"x-kubernetes-list-type":"atomic","x-kubernetes-patch-merge-key":"ip","x-kubernetes-patch-strategy":"merge"}`},
		{core, "io.k8s.api.core.v1.Container", "args", `{}`},
		{apps, "io.k8s.api.apps.v1.DeploymentSpec", "strategy", `{"x-kubernetes-patch-strategy":"retainKeys"}`},
	} {
		ext := map[string]any{}
		for k, v := range prop(t, c.schemas[c.schema], c.name) {
			if len(k) > 2 && k[:2] == "x-" {
				ext[k] = v
			}
		}
		if got := asJSON(ext); got != c.want {
			t.Errorf("%s.%s extensions %s, want %s", c.schema, c.name, got, c.want)
		}
	}
	// Every patchMergeKey of the API types is carried over.
	for _, typ := range []reflect.Type{reflect.TypeFor[corev1.PodSpec](), reflect.TypeFor[appsv1.DeploymentSpec]()} {
		s := core[modelName(typ)]
		if s == nil {
			s = apps[modelName(typ)]
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			if key := f.Tag.Get("patchMergeKey"); key != "" {
				name := jsonFieldName(f)
				if got := prop(t, s, name)["x-kubernetes-patch-merge-key"]; got != key {
					t.Errorf("%v.%s merge key %v, want %s", typ, name, got, key)
				}
			}
		}
	}
}

func jsonFieldName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if i := slices.Index([]byte(tag), ','); i >= 0 {
		return tag[:i]
	}
	return tag
}
