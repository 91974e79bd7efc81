package resources

import (
	"bytes"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiserver/printers"
)

// maxDataBytes bounds the summed value sizes of a ConfigMap's or a
// Secret's data, as upstream bounds both by MaxSecretSize (1 MiB).
const maxDataBytes = corev1.MaxSecretSize

// ConfigMaps is core/v1 configmaps. A ConfigMap created with
// `immutable: true` keeps its data and the flag for good.
func ConfigMaps() *Resource {
	return &Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Resource:     "configmaps",
		Singular:     "configmap",
		Kind:         "ConfigMap",
		Namespaced:   true,
		ShortNames:   []string{"cm"},
		New:          func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:      func() runtime.Object { return &corev1.ConfigMapList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			cm := obj.(*corev1.ConfigMap)
			return append(ValidateMeta(cm, true, NameIsDNSSubdomain), validateConfigMapData(cm)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cm, o := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
			errs := append(ValidateMetaUpdate(cm, o), validateConfigMapData(cm)...)
			return append(errs, validateImmutableData(cm.Immutable, o.Immutable, map[string]bool{
				"data":       !maps.Equal(cm.Data, o.Data),
				"binaryData": !maps.EqualFunc(cm.BinaryData, o.BinaryData, bytes.Equal),
			})...)
		},
		Table: &Table{Columns: printers.ConfigMapColumns, Row: printers.ConfigMapRow},
	}
}

// validateConfigMapData checks the keys of data and binaryData (valid,
// and not in both) and their summed size.
func validateConfigMapData(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	size := 0
	dp, bp := field.NewPath("data"), field.NewPath("binaryData")
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		errs = append(errs, validateDataKey(dp.Key(k), k)...)
		size += len(cm.Data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		errs = append(errs, validateDataKey(bp.Key(k), k)...)
		if _, dup := cm.Data[k]; dup {
			errs = append(errs, field.Invalid(bp.Key(k), k, "duplicate of key present in data"))
		}
		size += len(cm.BinaryData[k])
	}
	if size > maxDataBytes {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxDataBytes))
	}
	return errs
}

// validateDataKey checks a ConfigMap or Secret key: what may name a file
// in a volume (letters, digits, '-', '_', '.').
func validateDataKey(p *field.Path, key string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(key) {
		errs = append(errs, field.Invalid(p, key, msg))
	}
	return errs
}

// validateImmutableData enforces `immutable: true` on an update: the flag
// may not be unset and none of the named fields may change. changed maps
// a field name to whether the update changes it.
func validateImmutableData(immutable, oldImmutable *bool, changed map[string]bool) field.ErrorList {
	if oldImmutable == nil || !*oldImmutable {
		return nil
	}
	const msg = "field is immutable when `immutable` is set"
	var errs field.ErrorList
	if immutable == nil || !*immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
	}
	for _, name := range slices.Sorted(maps.Keys(changed)) {
		if changed[name] {
			errs = append(errs, field.Forbidden(field.NewPath(name), msg))
		}
	}
	return errs
}
