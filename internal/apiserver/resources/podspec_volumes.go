package resources

import (
	"math"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateVolumes checks volume names (unique DNS labels) and that each
// volume has exactly one source, and returns the volumes by name for the
// checks of volume mounts.
func validateVolumes(vols []corev1.Volume, fldPath *field.Path) (map[string]*corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	byName := map[string]*corev1.VolumeSource{}
	for i := range vols {
		v := &vols[i]
		idx := fldPath.Index(i)
		if v.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			errs = append(errs, validatePodDNSLabel(v.Name, idx.Child("name"))...)
		}
		if _, dup := byName[v.Name]; dup && v.Name != "" {
			errs = append(errs, field.Duplicate(idx.Child("name"), v.Name))
		} else {
			byName[v.Name] = &v.VolumeSource
		}
		names := volumeSourceNames(&v.VolumeSource)
		switch {
		case len(names) == 0:
			errs = append(errs, field.Required(idx, "must specify a volume type"))
		case len(names) > 1:
			for _, extra := range names[1:] {
				errs = append(errs, field.Forbidden(idx.Child(extra), "may not specify more than 1 volume type"))
			}
		default:
			errs = append(errs, validateVolumeSource(&v.VolumeSource, idx.Child(names[0]))...)
		}
	}
	return byName, errs
}

// validateVolumeSource checks the one source set; fldPath names it. Only
// the sources skiff's kubelet can mount, and the common ones, are checked
// in depth.
func validateVolumeSource(src *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case src.HostPath != nil:
		errs = append(errs, requirePodField(src.HostPath.Path, fldPath.Child("path"))...)
		errs = append(errs, validatePodPathNoBacksteps(src.HostPath.Path, fldPath.Child("path"))...)
		if t := src.HostPath.Type; t != nil {
			switch *t {
			case corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
				corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev:
			default:
				errs = append(errs, field.NotSupported(fldPath.Child("type"), *t, []corev1.HostPathType{
					corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
					corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev}))
			}
		}
	case src.EmptyDir != nil:
		if m := src.EmptyDir.Medium; m != corev1.StorageMediumDefault && m != corev1.StorageMediumMemory &&
			!strings.HasPrefix(string(m), string(corev1.StorageMediumHugePages)) {
			errs = append(errs, field.NotSupported(fldPath.Child("medium"), m, []corev1.StorageMedium{
				corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages}))
		}
		if s := src.EmptyDir.SizeLimit; s != nil && s.Sign() < 0 {
			errs = append(errs, field.Forbidden(fldPath.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case src.Secret != nil:
		errs = append(errs, requirePodField(src.Secret.SecretName, fldPath.Child("secretName"))...)
		errs = append(errs, validatePodFileMode(src.Secret.DefaultMode, fldPath.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(src.Secret.Items, fldPath.Child("items"))...)
	case src.ConfigMap != nil:
		errs = append(errs, requirePodField(src.ConfigMap.Name, fldPath.Child("name"))...)
		errs = append(errs, validatePodFileMode(src.ConfigMap.DefaultMode, fldPath.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(src.ConfigMap.Items, fldPath.Child("items"))...)
	case src.DownwardAPI != nil:
		errs = append(errs, validatePodFileMode(src.DownwardAPI.DefaultMode, fldPath.Child("defaultMode"))...)
		errs = append(errs, validateDownwardAPIFiles(src.DownwardAPI.Items, fldPath.Child("items"))...)
	case src.Projected != nil:
		errs = append(errs, validateProjectedVolume(src.Projected, fldPath)...)
	case src.PersistentVolumeClaim != nil:
		errs = append(errs, requirePodField(src.PersistentVolumeClaim.ClaimName, fldPath.Child("claimName"))...)
	case src.NFS != nil:
		errs = append(errs, requirePodField(src.NFS.Server, fldPath.Child("server"))...)
		if src.NFS.Path == "" {
			errs = append(errs, field.Required(fldPath.Child("path"), ""))
		} else if !path.IsAbs(src.NFS.Path) {
			errs = append(errs, field.Invalid(fldPath.Child("path"), src.NFS.Path, "must be an absolute path"))
		}
	case src.CSI != nil:
		errs = append(errs, requirePodField(src.CSI.Driver, fldPath.Child("driver"))...)
	case src.Ephemeral != nil:
		if src.Ephemeral.VolumeClaimTemplate == nil {
			errs = append(errs, field.Required(fldPath.Child("volumeClaimTemplate"), ""))
		}
	case src.Image != nil:
		switch src.Image.PullPolicy {
		case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("pullPolicy"), src.Image.PullPolicy,
				[]corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}))
		}
	}
	return errs
}

func validateProjectedVolume(p *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	errs := validatePodFileMode(p.DefaultMode, fldPath.Child("defaultMode"))
	paths := sets.New[string]()
	addPath := func(pth string, fp *field.Path) {
		if paths.Has(pth) {
			errs = append(errs, field.Invalid(fp, pth, "conflicting duplicate paths"))
		}
		paths.Insert(pth)
	}
	for i, s := range p.Sources {
		idx := fldPath.Child("sources").Index(i)
		n := 0
		if s.Secret != nil {
			n++
			errs = append(errs, validateKeyToPaths(s.Secret.Items, idx.Child("secret", "items"))...)
			for j, it := range s.Secret.Items {
				addPath(it.Path, idx.Child("secret", "items").Index(j).Child("path"))
			}
		}
		if s.ConfigMap != nil {
			n++
			errs = append(errs, validateKeyToPaths(s.ConfigMap.Items, idx.Child("configMap", "items"))...)
			for j, it := range s.ConfigMap.Items {
				addPath(it.Path, idx.Child("configMap", "items").Index(j).Child("path"))
			}
		}
		if s.DownwardAPI != nil {
			n++
			errs = append(errs, validateDownwardAPIFiles(s.DownwardAPI.Items, idx.Child("downwardAPI", "items"))...)
			for j, it := range s.DownwardAPI.Items {
				addPath(it.Path, idx.Child("downwardAPI", "items").Index(j).Child("path"))
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			tp := idx.Child("serviceAccountToken")
			if t.Path == "" {
				errs = append(errs, field.Required(tp.Child("path"), ""))
			} else {
				errs = append(errs, validatePodLocalPath(t.Path, tp.Child("path"))...)
				addPath(t.Path, tp.Child("path"))
			}
			if e := t.ExpirationSeconds; e != nil && *e < 10*60 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration less than 10 minutes"))
			} else if e != nil && *e > math.MaxUint32 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration larger than 2^32 seconds"))
			}
		}
		if s.ClusterTrustBundle != nil {
			n++
		}
		if s.PodCertificate != nil {
			n++
		}
		if n != 1 {
			errs = append(errs, field.Forbidden(idx, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		idx := fldPath.Index(i)
		errs = append(errs, requirePodField(it.Key, idx.Child("key"))...)
		if it.Path == "" {
			errs = append(errs, field.Required(idx.Child("path"), ""))
		} else {
			errs = append(errs, validatePodLocalPath(it.Path, idx.Child("path"))...)
		}
		errs = append(errs, validatePodFileMode(it.Mode, idx.Child("mode"))...)
	}
	return errs
}

func validateDownwardAPIFiles(items []corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		idx := fldPath.Index(i)
		if it.Path == "" {
			errs = append(errs, field.Required(idx.Child("path"), ""))
		} else {
			errs = append(errs, validatePodLocalPath(it.Path, idx.Child("path"))...)
		}
		errs = append(errs, validatePodFileMode(it.Mode, idx.Child("mode"))...)
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(idx, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case it.FieldRef != nil:
			errs = append(errs, validateFieldRef(it.FieldRef, volumeFieldPaths, idx.Child("fieldRef"))...)
		case it.ResourceFieldRef != nil:
			errs = append(errs, validateResourceFieldRef(it.ResourceFieldRef, true, idx.Child("resourceFieldRef"))...)
		default:
			errs = append(errs, field.Required(idx, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

// validatePodLocalPath: a relative path that stays below its root.
func validatePodLocalPath(p string, fldPath *field.Path) field.ErrorList {
	if path.IsAbs(p) {
		return field.ErrorList{field.Invalid(fldPath, p, "must be a relative path")}
	}
	return validatePodPathNoBacksteps(p, fldPath)
}

func validatePodPathNoBacksteps(p string, fldPath *field.Path) field.ErrorList {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}

func requirePodField(v string, fldPath *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return nil
}
