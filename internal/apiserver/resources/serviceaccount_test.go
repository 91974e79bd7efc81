package resources

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceAccounts(t *testing.T) {
	r := ServiceAccounts()
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("ServiceAccount") || !r.Namespaced || !reflect.DeepEqual(r.ShortNames, []string{"sa"}) {
		t.Errorf("descriptor = %+v", r)
	}
	sa := &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ci", ResourceVersion: "1"},
		Secrets:    []corev1.ObjectReference{{Name: "builder-token", Namespace: "other", Kind: "Secret", UID: "u"}},
	}
	r.PrepareForCreate(sa)
	if !reflect.DeepEqual(sa.Secrets, []corev1.ObjectReference{{Name: "builder-token"}}) {
		t.Errorf("secrets = %+v", sa.Secrets)
	}
	expectFieldErrors(t, r.Validate(sa))
	bad := sa.DeepCopy()
	bad.Name = "Builder"
	expectFieldErrors(t, r.Validate(bad), "FieldValueInvalid metadata.name")
	expectFieldErrors(t, r.ValidateUpdate(sa.DeepCopy(), sa))
}
