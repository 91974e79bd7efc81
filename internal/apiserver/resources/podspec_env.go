package resources

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Downward API field paths upstream accepts in env vars and in volume
// files; both also take metadata.labels['k'] and metadata.annotations['k'].
var (
	envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid",
		"spec.nodeName", "spec.serviceAccountName",
		"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	volumeFieldPaths = []string{"metadata.annotations", "metadata.labels",
		"metadata.name", "metadata.namespace", "metadata.uid"}
	resourceFieldRefs = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory",
		"requests.cpu", "requests.ephemeral-storage", "requests.memory"}
)

func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		idx := fldPath.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(ev.Name) {
				errs = append(errs, field.Invalid(idx.Child("name"), ev.Name, msg))
			}
		}
		if ev.ValueFrom == nil {
			continue
		}
		errs = append(errs, validateEnvVarSource(ev.ValueFrom, idx.Child("valueFrom"))...)
		if ev.Value != "" {
			errs = append(errs, field.Invalid(idx.Child("valueFrom"), "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

func validateEnvVarSource(s *corev1.EnvVarSource, fldPath *field.Path) field.ErrorList {
	n := 0
	for _, set := range []bool{s.FieldRef != nil, s.ResourceFieldRef != nil, s.ConfigMapKeyRef != nil, s.SecretKeyRef != nil, s.FileKeyRef != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return field.ErrorList{field.Invalid(fldPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`")}
	case n > 1:
		return field.ErrorList{field.Invalid(fldPath, "", "may not have more than one field specified at a time")}
	}
	switch {
	case s.FieldRef != nil:
		return validateFieldRef(s.FieldRef, envFieldPaths, fldPath.Child("fieldRef"))
	case s.ResourceFieldRef != nil:
		return validateResourceFieldRef(s.ResourceFieldRef, false, fldPath.Child("resourceFieldRef"))
	case s.ConfigMapKeyRef != nil:
		return validateKeyRef(s.ConfigMapKeyRef.Name, s.ConfigMapKeyRef.Key, fldPath.Child("configMapKeyRef"))
	case s.SecretKeyRef != nil:
		return validateKeyRef(s.SecretKeyRef.Name, s.SecretKeyRef.Key, fldPath.Child("secretKeyRef"))
	}
	var errs field.ErrorList
	f := s.FileKeyRef
	for _, kv := range [][2]string{{"volumeName", f.VolumeName}, {"path", f.Path}, {"key", f.Key}} {
		if kv[1] == "" {
			errs = append(errs, field.Required(fldPath.Child("fileKeyRef", kv[0]), ""))
		}
	}
	return errs
}

// validateKeyRef checks a reference to one key of a ConfigMap or Secret.
func validateKeyRef(name, key string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else {
		errs = append(errs, validatePodRefName(name, NameIsDNSSubdomain, fldPath.Child("name"))...)
	}
	if key == "" {
		return append(errs, field.Required(fldPath.Child("key"), ""))
	}
	for _, msg := range validation.IsConfigMapKey(key) {
		errs = append(errs, field.Invalid(fldPath.Child("key"), key, msg))
	}
	return errs
}

func validateFieldRef(f *corev1.ObjectFieldSelector, allowed []string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch f.APIVersion {
	case "v1":
	case "":
		errs = append(errs, field.Required(fldPath.Child("apiVersion"), ""))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("apiVersion"), f.APIVersion, []string{"v1"}))
	}
	p := fldPath.Child("fieldPath")
	if f.FieldPath == "" {
		return append(errs, field.Required(p, ""))
	}
	if base, key, ok := splitFieldSubscript(f.FieldPath); ok && (base == "metadata.labels" || base == "metadata.annotations") {
		if base == "metadata.annotations" {
			key = strings.ToLower(key)
		}
		for _, msg := range content.IsQualifiedName(key) {
			errs = append(errs, field.Invalid(p, f.FieldPath, msg))
		}
		return errs
	}
	if !slices.Contains(allowed, f.FieldPath) {
		errs = append(errs, field.NotSupported(p, f.FieldPath, allowed))
	}
	return errs
}

// splitFieldSubscript splits "metadata.labels['app']" into its base path
// and key.
func splitFieldSubscript(p string) (base, key string, ok bool) {
	base, rest, found := strings.Cut(p, "['")
	if !found || !strings.HasSuffix(rest, "']") {
		return "", "", false
	}
	return base, strings.TrimSuffix(rest, "']"), true
}

func validateResourceFieldRef(r *corev1.ResourceFieldSelector, needContainer bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if needContainer && r.ContainerName == "" {
		errs = append(errs, field.Required(fldPath.Child("containerName"), ""))
	}
	switch {
	case r.Resource == "":
		errs = append(errs, field.Required(fldPath.Child("resource"), ""))
	case slices.Contains(resourceFieldRefs, r.Resource),
		strings.HasPrefix(r.Resource, "limits."+corev1.ResourceHugePagesPrefix),
		strings.HasPrefix(r.Resource, "requests."+corev1.ResourceHugePagesPrefix):
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("resource"), r.Resource, resourceFieldRefs))
	}
	return errs
}

func validateEnvFrom(sources []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range sources {
		idx := fldPath.Index(i)
		if s.Prefix != "" {
			for _, msg := range validation.IsRelaxedEnvVarName(s.Prefix) {
				errs = append(errs, field.Invalid(idx.Child("prefix"), s.Prefix, msg))
			}
		}
		n := 0
		if s.ConfigMapRef != nil {
			n++
			errs = append(errs, validatePodRefName(s.ConfigMapRef.Name, NameIsDNSSubdomain, idx.Child("configMapRef", "name"))...)
		}
		if s.SecretRef != nil {
			n++
			errs = append(errs, validatePodRefName(s.SecretRef.Name, NameIsDNSSubdomain, idx.Child("secretRef", "name"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(idx, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(idx, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}
