package resources

import (
	"fmt"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// containerKind says which list a container is in; the rules differ.
type containerKind int

const (
	regularContainer containerKind = iota
	initContainer
	ephemeralContainer
)

// validateAllContainers checks regular, init and ephemeral containers, with
// names unique across all of them, and the pod-wide host port rules.
func validateAllContainers(spec *corev1.PodSpec, vols map[string]*corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(fldPath.Child("containers"), ""))
	}
	names := sets.New[string]()
	check := func(c *corev1.Container, kind containerKind, p *field.Path) {
		errs = append(errs, validateContainer(c, vols, kind, p)...)
		if c.Name != "" && names.Has(c.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		}
		names.Insert(c.Name)
	}
	for i := range spec.Containers {
		check(&spec.Containers[i], regularContainer, fldPath.Child("containers").Index(i))
	}
	for i := range spec.InitContainers {
		check(&spec.InitContainers[i], initContainer, fldPath.Child("initContainers").Index(i))
	}
	for i := range spec.EphemeralContainers {
		c := (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)
		check(c, ephemeralContainer, fldPath.Child("ephemeralContainers").Index(i))
	}
	return append(errs, validatePodHostPorts(spec, fldPath)...)
}

func validateContainer(c *corev1.Container, vols map[string]*corev1.VolumeSource, kind containerKind, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else {
		errs = append(errs, validatePodDNSLabel(c.Name, fldPath.Child("name"))...)
	}
	if c.Image == "" {
		errs = append(errs, field.Required(fldPath.Child("image"), ""))
	}
	switch c.ImagePullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	case "":
		errs = append(errs, field.Required(fldPath.Child("imagePullPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("imagePullPolicy"), c.ImagePullPolicy,
			[]corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}))
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	case "":
		errs = append(errs, field.Required(fldPath.Child("terminationMessagePolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("terminationMessagePolicy"), c.TerminationMessagePolicy,
			[]corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}))
	}
	errs = append(errs, validateContainerRestartPolicy(c.RestartPolicy, kind, fldPath.Child("restartPolicy"))...)
	errs = append(errs, validateContainerPorts(c.Ports, fldPath.Child("ports"))...)
	errs = append(errs, validateEnv(c.Env, fldPath.Child("env"))...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, fldPath.Child("envFrom"))...)
	errs = append(errs, validateContainerResources(c.Resources, fldPath.Child("resources"))...)
	errs = append(errs, validateVolumeMounts(c, vols, fldPath)...)
	errs = append(errs, validateContainerProbes(c, kind, fldPath)...)
	if kind == ephemeralContainer {
		if len(c.Ports) > 0 {
			errs = append(errs, field.Forbidden(fldPath.Child("ports"), "cannot be set for an Ephemeral Container"))
		}
		if len(c.Resources.Limits)+len(c.Resources.Requests) > 0 {
			errs = append(errs, field.Forbidden(fldPath.Child("resources"), "cannot be set for an Ephemeral Container"))
		}
	}
	return errs
}

func validateContainerRestartPolicy(p *corev1.ContainerRestartPolicy, kind containerKind, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	switch kind {
	case initContainer:
		// Only sidecars (restartPolicy Always) set it among init containers.
		if *p != corev1.ContainerRestartPolicyAlways {
			return field.ErrorList{field.NotSupported(fldPath, *p, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways})}
		}
	case ephemeralContainer:
		return field.ErrorList{field.Forbidden(fldPath, "cannot be set for an Ephemeral Container")}
	default:
		switch *p {
		case corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyOnFailure, corev1.ContainerRestartPolicyNever:
		default:
			return field.ErrorList{field.NotSupported(fldPath, *p, []corev1.ContainerRestartPolicy{
				corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyOnFailure, corev1.ContainerRestartPolicyNever})}
		}
	}
	return nil
}

func validateContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idx := fldPath.Index(i)
		if p.Name != "" {
			if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(idx.Child("name"), p.Name, msg))
				}
			} else if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(idx.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		if p.ContainerPort == 0 {
			errs = append(errs, field.Required(idx.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				errs = append(errs, field.Invalid(idx.Child("containerPort"), p.ContainerPort, msg))
			}
		}
		if p.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(p.HostPort)) {
				errs = append(errs, field.Invalid(idx.Child("hostPort"), p.HostPort, msg))
			}
		}
		errs = append(errs, validatePodPortProtocol(p.Protocol, idx.Child("protocol"))...)
	}
	return errs
}

func validatePodPortProtocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, p, []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP})}
}

// validatePodHostPorts: a host port (with its protocol and host IP) is used
// by one container only, and with hostNetwork it must equal the container
// port.
func validatePodHostPorts(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	used := sets.New[string]()
	for i, c := range spec.Containers {
		for j, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", p.HostIP, p.Protocol, p.HostPort)
			if used.Has(key) {
				errs = append(errs, field.Duplicate(fldPath.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"),
					fmt.Sprintf("%d/%s", p.HostPort, p.Protocol)))
			}
			used.Insert(key)
		}
	}
	if !spec.HostNetwork {
		return errs
	}
	for _, list := range []struct {
		name string
		ctrs []corev1.Container
	}{{"containers", spec.Containers}, {"initContainers", spec.InitContainers}} {
		for i, c := range list.ctrs {
			for j, p := range c.Ports {
				if p.HostPort != 0 && p.HostPort != p.ContainerPort {
					errs = append(errs, field.Invalid(fldPath.Child(list.name).Index(i).Child("ports").Index(j).Child("hostPort"),
						p.HostPort, "must match `containerPort` when `hostNetwork` is true"))
				}
			}
		}
	}
	return errs
}

// validateContainerResources: known or extended resource names, quantities
// not negative, requests at most limits; extended resources cannot be
// overcommitted, so their request equals their limit.
func validateContainerResources(r corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	for _, name := range sortedContainerResourceNames(r.Limits) {
		q := r.Limits[name]
		p := limPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(name, p)...)
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	for _, name := range sortedContainerResourceNames(r.Requests) {
		q := r.Requests[name]
		p := reqPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(name, p)...)
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
		lim, hasLimit := r.Limits[name]
		switch {
		case isExtendedResourceName(name) && !hasLimit:
			errs = append(errs, field.Required(limPath.Key(string(name)), "Limit must be set for non overcommitable resources"))
		case isExtendedResourceName(name) && q.Cmp(lim) != 0:
			errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, lim.String())))
		case hasLimit && q.Cmp(lim) > 0:
			errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return errs
}

func validateContainerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	switch {
	case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
		strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix), isExtendedResourceName(name):
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource for containers")}
}

// isExtendedResourceName: a domain-qualified name outside kubernetes.io.
func isExtendedResourceName(name corev1.ResourceName) bool {
	s := string(name)
	domain, _, found := strings.Cut(s, "/")
	if !found || domain == "kubernetes.io" || strings.HasSuffix(domain, ".kubernetes.io") || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(content.IsQualifiedName(s)) == 0
}

func sortedContainerResourceNames(rl corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(rl))
	for n := range rl {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

func validateVolumeMounts(c *corev1.Container, vols map[string]*corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	mountPaths := sets.New[string]()
	for i, m := range c.VolumeMounts {
		idx := fldPath.Child("volumeMounts").Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else if _, ok := vols[m.Name]; !ok {
			errs = append(errs, field.NotFound(idx.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(idx.Child("mountPath"), ""))
		} else if mountPaths.Has(path.Clean(m.MountPath)) {
			errs = append(errs, field.Invalid(idx.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPaths.Insert(path.Clean(m.MountPath))
		if m.SubPath != "" {
			errs = append(errs, validatePodLocalPath(m.SubPath, idx.Child("subPath"))...)
			if m.SubPathExpr != "" {
				errs = append(errs, field.Invalid(idx.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
		}
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationNone, corev1.MountPropagationHostToContainer:
			case corev1.MountPropagationBidirectional:
				if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
					errs = append(errs, field.Forbidden(idx.Child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers"))
				}
			default:
				errs = append(errs, field.NotSupported(idx.Child("mountPropagation"), *m.MountPropagation, []corev1.MountPropagationMode{
					corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}))
			}
		}
	}
	for i, d := range c.VolumeDevices {
		idx := fldPath.Child("volumeDevices").Index(i)
		if _, ok := vols[d.Name]; !ok {
			errs = append(errs, field.NotFound(idx.Child("name"), d.Name))
		}
		if d.DevicePath == "" {
			errs = append(errs, field.Required(idx.Child("devicePath"), ""))
		}
	}
	return errs
}
