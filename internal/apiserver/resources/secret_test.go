package resources

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func testSecret(typ corev1.SecretType, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default", ResourceVersion: "6"}, Type: typ, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestSecretDescriptor(t *testing.T) {
	r := Secrets()
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("Secret") || !r.Namespaced || len(r.ShortNames) != 0 {
		t.Errorf("descriptor = %+v", r)
	}
	if got := r.Fields(testSecret(corev1.SecretTypeTLS, nil)); !reflect.DeepEqual(got, fields.Set{"type": "kubernetes.io/tls"}) {
		t.Errorf("fields = %v", got)
	}
}

func TestSecretStringDataMerge(t *testing.T) {
	s := testSecret("", map[string]string{"user": "old", "keep": "k"})
	s.StringData = map[string]string{"user": "admin", "password": "hunter2"}
	Secrets().Default(s)
	want := map[string][]byte{"user": []byte("admin"), "password": []byte("hunter2"), "keep": []byte("k")}
	if s.Type != corev1.SecretTypeOpaque || s.StringData != nil || !reflect.DeepEqual(s.Data, want) {
		t.Errorf("defaulted secret = %+v", s)
	}

	// stringData alone creates data.
	only := &corev1.Secret{StringData: map[string]string{"token": "t"}}
	Secrets().Default(only)
	if string(only.Data["token"]) != "t" || only.StringData != nil {
		t.Errorf("defaulted secret = %+v", only)
	}
}

func TestValidateSecret(t *testing.T) {
	cases := []struct {
		name   string
		secret *corev1.Secret
		want   []string
	}{
		{"opaque", testSecret(corev1.SecretTypeOpaque, map[string]string{"a": "b"}), nil},
		{"bad key", testSecret(corev1.SecretTypeOpaque, map[string]string{"a b": "x"}), []string{"FieldValueInvalid data[a b]"}},
		{"tls", testSecret(corev1.SecretTypeTLS, map[string]string{"tls.crt": "c", "tls.key": "k"}), nil},
		{"tls without key", testSecret(corev1.SecretTypeTLS, map[string]string{"tls.crt": "c"}), []string{"FieldValueRequired data[tls.key]"}},
		{"dockerconfigjson", testSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{}}`}), nil},
		{"dockerconfigjson missing", testSecret(corev1.SecretTypeDockerConfigJson, nil), []string{"FieldValueRequired data[.dockerconfigjson]"}},
		{"dockerconfigjson not JSON", testSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": "{"}),
			[]string{"FieldValueInvalid data[.dockerconfigjson]"}},
		{"basic auth", testSecret(corev1.SecretTypeBasicAuth, map[string]string{"password": ""}), nil},
		{"basic auth empty", testSecret(corev1.SecretTypeBasicAuth, nil), []string{"FieldValueRequired data[username]", "FieldValueRequired data[password]"}},
		{"ssh", testSecret(corev1.SecretTypeSSHAuth, nil), []string{"FieldValueRequired data[ssh-privatekey]"}},
		{"token without account", testSecret(corev1.SecretTypeServiceAccountToken, nil),
			[]string{"FieldValueRequired metadata.annotations[kubernetes.io/service-account.name]"}},
		{"custom type", testSecret("example.com/thing", nil), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectFieldErrors(t, Secrets().Validate(tc.secret), tc.want...)
		})
	}
	token := testSecret(corev1.SecretTypeServiceAccountToken, nil)
	token.Annotations = map[string]string{corev1.ServiceAccountNameKey: "default"}
	expectFieldErrors(t, Secrets().Validate(token))
}

func TestSecretUpdate(t *testing.T) {
	r := Secrets()
	old := testSecret(corev1.SecretTypeOpaque, map[string]string{"a": "1"})
	s := old.DeepCopy()
	s.Type = corev1.SecretTypeBasicAuth
	s.Data["username"] = []byte("u")
	expectFieldErrors(t, r.ValidateUpdate(s, old), "FieldValueInvalid type")

	yes := true
	old.Immutable = &yes
	s = old.DeepCopy()
	s.StringData = map[string]string{"a": "2"}
	r.Default(s)
	expectFieldErrors(t, r.ValidateUpdate(s, old), "FieldValueForbidden data")
	s = old.DeepCopy()
	s.StringData = map[string]string{"a": "1"} // the same value: no change
	r.Default(s)
	expectFieldErrors(t, r.ValidateUpdate(s, old))
}
