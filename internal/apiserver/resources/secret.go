package resources

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// Secrets is core/v1 secrets. stringData is a write-only convenience: it
// is merged into data (stringData wins) before validation and never
// stored. The type is fixed at creation; `immutable: true` fixes the data
// as for ConfigMaps.
func Secrets() *Resource {
	return &Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Resource:     "secrets",
		Singular:     "secret",
		Kind:         "Secret",
		Namespaced:   true,
		New:          func() runtime.Object { return &corev1.Secret{} },
		NewList:      func() runtime.Object { return &corev1.SecretList{} },
		Default:      func(obj runtime.Object) { defaultSecret(obj.(*corev1.Secret)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			s := obj.(*corev1.Secret)
			return append(ValidateMeta(s, true, NameIsDNSSubdomain), validateSecretData(s)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := obj.(*corev1.Secret), old.(*corev1.Secret)
			errs := append(ValidateMetaUpdate(s, o), validateSecretData(s)...)
			errs = append(errs, apimachineryvalidation.ValidateImmutableField(s.Type, o.Type, field.NewPath("type"))...)
			return append(errs, validateImmutableData(s.Immutable, o.Immutable, map[string]bool{
				"data": !maps.EqualFunc(s.Data, o.Data, bytes.Equal),
			})...)
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
		},
		Table: &Table{Columns: printers.SecretColumns, Row: printers.SecretRow},
	}
}

// defaultSecret gives the type Opaque and folds stringData into data.
func defaultSecret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// secretRequiredKeys are the data keys each built-in type must carry.
var secretRequiredKeys = map[corev1.SecretType][]string{
	corev1.SecretTypeDockercfg:        {corev1.DockerConfigKey},
	corev1.SecretTypeDockerConfigJson: {corev1.DockerConfigJsonKey},
	corev1.SecretTypeSSHAuth:          {corev1.SSHAuthPrivateKey},
	corev1.SecretTypeTLS:              {corev1.TLSCertKey, corev1.TLSPrivateKeyKey},
}

// validateSecretData checks keys, total size and what the secret's type
// requires.
func validateSecretData(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dp := field.NewPath("data")
	size := 0
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		errs = append(errs, validateDataKey(dp.Key(k), k)...)
		size += len(s.Data[k])
	}
	if size > maxDataBytes {
		errs = append(errs, field.TooLong(dp, "", maxDataBytes))
	}
	for _, k := range secretRequiredKeys[s.Type] {
		if _, ok := s.Data[k]; !ok {
			errs = append(errs, field.Required(dp.Key(k), ""))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeBasicAuth:
		// Either may be empty, but one of them must be there.
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, password := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !password {
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dp.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		key := secretRequiredKeys[s.Type][0]
		if v, ok := s.Data[key]; ok {
			var doc map[string]interface{}
			if err := json.Unmarshal(v, &doc); err != nil {
				errs = append(errs, field.Invalid(dp.Key(key), "<secret contents redacted>", err.Error()))
			}
		}
	}
	return errs
}
