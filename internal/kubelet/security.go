package kubelet

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Paths masked or read-only in unprivileged containers, as upstream's
// kubelet sends them (containerd applies none when the list is empty).
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// effectiveSecurity merges the pod's security context under the
// container's: the container's fields win.
type effectiveSecurity struct {
	runAsUser, runAsGroup *int64
	runAsNonRoot          *bool
	seccomp               *corev1.SeccompProfile
}

func effectiveSecurityOf(pod *corev1.Pod, c *corev1.Container) effectiveSecurity {
	var e effectiveSecurity
	if p := pod.Spec.SecurityContext; p != nil {
		e.runAsUser, e.runAsGroup, e.runAsNonRoot, e.seccomp = p.RunAsUser, p.RunAsGroup, p.RunAsNonRoot, p.SeccompProfile
	}
	if s := c.SecurityContext; s != nil {
		if s.RunAsUser != nil {
			e.runAsUser = s.RunAsUser
		}
		if s.RunAsGroup != nil {
			e.runAsGroup = s.RunAsGroup
		}
		if s.RunAsNonRoot != nil {
			e.runAsNonRoot = s.RunAsNonRoot
		}
		if s.SeccompProfile != nil {
			e.seccomp = s.SeccompProfile
		}
	}
	return e
}

// containerSecurityContext converts the container's (and pod's) security
// settings to CRI's.
func containerSecurityContext(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	e := effectiveSecurityOf(pod, c)
	sc := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: namespaceOptions(pod),
		Seccomp:          seccompProfile(e.seccomp, nil),
	}
	if e.runAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *e.runAsUser}
	}
	if e.runAsGroup != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *e.runAsGroup}
	}
	if p := pod.Spec.SecurityContext; p != nil {
		sc.SupplementalGroups = append(sc.SupplementalGroups, p.SupplementalGroups...)
		if p.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *p.FSGroup)
		}
	}
	unmasked := false
	if s := c.SecurityContext; s != nil {
		sc.Privileged = s.Privileged != nil && *s.Privileged
		sc.ReadonlyRootfs = s.ReadOnlyRootFilesystem != nil && *s.ReadOnlyRootFilesystem
		// allowPrivilegeEscalation: false sets no_new_privs; unset leaves
		// it off, as upstream.
		sc.NoNewPrivs = s.AllowPrivilegeEscalation != nil && !*s.AllowPrivilegeEscalation
		if caps := s.Capabilities; caps != nil {
			sc.Capabilities = &runtimeapi.Capability{}
			for _, cp := range caps.Add {
				sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, string(cp))
			}
			for _, cp := range caps.Drop {
				sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, string(cp))
			}
		}
		unmasked = s.ProcMount != nil && *s.ProcMount == corev1.UnmaskedProcMount
	}
	if !sc.Privileged && !unmasked {
		sc.MaskedPaths = append([]string{}, defaultMaskedPaths...)
		sc.ReadonlyPaths = append([]string{}, defaultReadonlyPaths...)
	}
	return sc
}

// seccompProfile converts a seccomp profile; none means Unconfined, the
// kubelet's default without --seccomp-default.
func seccompProfile(p *corev1.SeccompProfile, fallback *runtimeapi.SecurityProfile) *runtimeapi.SecurityProfile {
	if p == nil {
		if fallback != nil {
			return fallback
		}
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
	}
	switch p.Type {
	case corev1.SeccompProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	case corev1.SeccompProfileTypeLocalhost:
		path := ""
		if p.LocalhostProfile != nil {
			path = *p.LocalhostProfile
		}
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: path}
	}
	return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
}

// verifyRunAsNonRoot refuses a container that must not run as root but
// would: by runAsUser 0, or by the image's user when runAsUser is unset
// (a non-numeric image user cannot be verified). Messages as upstream's.
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, imageUID *int64, imageUser string) error {
	e := effectiveSecurityOf(pod, c)
	if e.runAsNonRoot == nil || !*e.runAsNonRoot {
		return nil
	}
	if e.runAsUser != nil {
		if *e.runAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", formatPod(pod), c.Name)
		}
		return nil
	}
	switch {
	case imageUID != nil && *imageUID == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", formatPod(pod), c.Name)
	case imageUID == nil && imageUser != "":
		if _, err := strconv.ParseInt(imageUser, 10, 64); err != nil {
			return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", imageUser, formatPod(pod), c.Name)
		}
	case imageUID == nil:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", formatPod(pod), c.Name)
	}
	return nil
}
