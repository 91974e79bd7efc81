package resources

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: "default", ResourceVersion: "5"},
		Data:       map[string]string{"app.yaml": "debug: true", "LOG_LEVEL": "info"},
		BinaryData: map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G'}},
	}
}

func TestConfigMapDescriptor(t *testing.T) {
	r := ConfigMaps()
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("ConfigMap") || !r.Namespaced || r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"cm"}) {
		t.Errorf("descriptor = %+v", r)
	}
}

func TestValidateConfigMap(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(cm *corev1.ConfigMap)
		want   []string
	}{
		{"valid", func(*corev1.ConfigMap) {}, nil},
		{"bad key", func(cm *corev1.ConfigMap) { cm.Data["a/b"] = "x" }, []string{"FieldValueInvalid data[a/b]"}},
		{"dot-dot key", func(cm *corev1.ConfigMap) { cm.BinaryData[".."] = nil }, []string{"FieldValueInvalid binaryData[..]"}},
		{"key in both", func(cm *corev1.ConfigMap) { cm.BinaryData["app.yaml"] = []byte("x") }, []string{"FieldValueInvalid binaryData[app.yaml]"}},
		{"exactly 1 MiB", func(cm *corev1.ConfigMap) {
			cm.Data = map[string]string{"big": strings.Repeat("x", 1<<20-4)}
		}, nil},
		{"over 1 MiB", func(cm *corev1.ConfigMap) {
			cm.Data = map[string]string{"big": strings.Repeat("x", 1<<20-3)}
		}, []string{"FieldValueTooLong []"}}, // upstream's path for the whole object
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cm := testConfigMap()
			tc.mutate(cm)
			expectFieldErrors(t, ConfigMaps().Validate(cm), tc.want...)
		})
	}
}

func TestConfigMapImmutable(t *testing.T) {
	r := ConfigMaps()
	yes, no := true, false

	// A mutable ConfigMap changes freely and may become immutable.
	old := testConfigMap()
	cm := old.DeepCopy()
	cm.Data["LOG_LEVEL"] = "debug"
	cm.Immutable = &yes
	expectFieldErrors(t, r.ValidateUpdate(cm, old))

	// Then its data and the flag stay; metadata may still change.
	old = cm
	cm = old.DeepCopy()
	cm.Labels = map[string]string{"team": "a"}
	expectFieldErrors(t, r.ValidateUpdate(cm, old))
	cm.Data["LOG_LEVEL"] = "info"
	cm.BinaryData = nil
	cm.Immutable = &no
	errs := r.ValidateUpdate(cm, old)
	expectFieldErrors(t, errs, "FieldValueForbidden data", "FieldValueForbidden binaryData", "FieldValueForbidden immutable")
	if want := "data: Forbidden: field is immutable when `immutable` is set"; !strings.Contains(errs.ToAggregate().Error(), want) {
		t.Errorf("errors = %v, want %q", errs, want)
	}
	cm = old.DeepCopy()
	cm.Immutable = nil
	expectFieldErrors(t, r.ValidateUpdate(cm, old), "FieldValueForbidden immutable")
}
