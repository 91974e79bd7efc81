package resources

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// ServiceAccounts is core/v1 serviceaccounts, with the token subresource
// (authentication.k8s.io/v1 TokenRequest; the API server serves it).
func ServiceAccounts() *Resource {
	return &Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Resource:     "serviceaccounts",
		Singular:     "serviceaccount",
		Kind:         "ServiceAccount",
		Namespaced:   true,
		ShortNames:   []string{"sa"},
		Subresources: []Subresource{
			{Name: "token", Kind: authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"), Verbs: []string{"create"}},
		},
		New:     func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList: func() runtime.Object { return &corev1.ServiceAccountList{} },
		PrepareForCreate: func(obj runtime.Object) {
			trimSecretReferences(obj.(*corev1.ServiceAccount))
		},
		PrepareForUpdate: func(obj, _ runtime.Object) {
			trimSecretReferences(obj.(*corev1.ServiceAccount))
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return ValidateMeta(obj, true, NameIsDNSSubdomain)
		},
		ValidateUpdate: ValidateMetaUpdate,
		Table:          &Table{Columns: printers.ServiceAccountColumns, Row: printers.ServiceAccountRow},
	}
}

// trimSecretReferences keeps only the name of each referenced secret, as
// upstream does: the secrets live in the account's own namespace, so the
// other reference fields carry nothing.
func trimSecretReferences(sa *corev1.ServiceAccount) {
	for i, ref := range sa.Secrets {
		sa.Secrets[i] = corev1.ObjectReference{Name: ref.Name}
	}
}
