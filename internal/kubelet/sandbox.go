package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podLogDir is where the runtime writes the pod's container logs, as
// upstream lays it out: <PodLogsDir>/<ns>_<name>_<uid>.
func (k *Kubelet) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(k.cfg.PodLogsDir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

// podDir holds the kubelet's own files for the pod.
func (k *Kubelet) podDir(uid string) string { return filepath.Join(k.cfg.RootDir, "pods", uid) }

// sandboxConfig builds the pod's sandbox configuration. It is a function
// of the pod and attempt only, so the same config can be passed again
// with CreateContainer for a sandbox made by an earlier sync (or an
// earlier kubelet). The warning, if any, is a DNS problem to report.
func (k *Kubelet) sandboxConfig(pod *corev1.Pod, attempt uint32) (*runtimeapi.PodSandboxConfig, string, error) {
	dns, warning := k.dnsConfig(pod)
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt,
		},
		LogDirectory: k.podLogDir(pod),
		DnsConfig:    dns,
		Labels:       sandboxLabels(pod),
		Annotations:  copyStrings(pod.Annotations),
		Linux:        k.sandboxLinuxConfig(pod),
	}
	if !pod.Spec.HostNetwork {
		hostname, _, err := k.podHostname(pod)
		if err != nil {
			return nil, "", err
		}
		cfg.Hostname = hostname
	}
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			if p.HostPort <= 0 {
				continue
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol:      protocolOf(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return cfg, warning, nil
}

func protocolOf(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

// sandboxLinuxConfig: cgroup parent by QoS, the pod's namespaces,
// identity, seccomp and sysctls.
func (k *Kubelet) sandboxLinuxConfig(pod *corev1.Pod) *runtimeapi.LinuxPodSandboxConfig {
	psc := pod.Spec.SecurityContext
	sc := &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
		sc.Seccomp = seccompProfile(psc.SeccompProfile, nil)
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if c := list[i].SecurityContext; c != nil && c.Privileged != nil && *c.Privileged {
				sc.Privileged = true
			}
		}
	}
	cfg := &runtimeapi.LinuxPodSandboxConfig{
		CgroupParent:    cgroupParent(k.cfg.CgroupRoot, pod, podQOS(pod)),
		SecurityContext: sc,
	}
	if psc != nil && len(psc.Sysctls) > 0 {
		cfg.Sysctls = map[string]string{}
		for _, s := range psc.Sysctls {
			cfg.Sysctls[s.Name] = s.Value
		}
	}
	return cfg
}

// namespaceOptions maps hostNetwork/hostPID/hostIPC and
// shareProcessNamespace to CRI namespace modes.
func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	opts := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		opts.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostIPC {
		opts.Ipc = runtimeapi.NamespaceMode_NODE
	}
	switch {
	case pod.Spec.HostPID:
		opts.Pid = runtimeapi.NamespaceMode_NODE
	case pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace:
		opts.Pid = runtimeapi.NamespaceMode_POD
	}
	return opts
}

// runtimeHandler resolves the pod's RuntimeClass to a CRI handler.
func (k *Kubelet) runtimeHandler(ctx context.Context, pod *corev1.Pod) (string, error) {
	name := pod.Spec.RuntimeClassName
	if name == nil || *name == "" {
		return "", nil
	}
	rc, err := k.client.NodeV1().RuntimeClasses().Get(ctx, *name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("failed to get RuntimeClass %q: %w", *name, err)
	}
	return rc.Handler, nil
}

// createSandbox starts a new sandbox for the pod. A previous sandbox
// (dead, or from a changed network) is stopped with its containers first
// and the attempt counts up.
func (k *Kubelet) createSandbox(ctx context.Context, pod *corev1.Pod, pr *podRuntime) (*runtimeapi.PodSandboxStatus, error) {
	var attempt uint32
	if prev := pr.sandbox(); prev != nil {
		attempt = prev.GetMetadata().GetAttempt() + 1
		k.podEvent(pod, corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		k.stopPod(ctx, pod, pr, 0)
	}
	cfg, warning, err := k.sandboxConfig(pod, attempt)
	if warning != "" {
		k.podEvent(pod, corev1.EventTypeWarning, "DNSConfigForming", warning)
	}
	if err == nil {
		err = k.prepareSandboxDirs(pod)
	}
	var handler string
	if err == nil {
		handler, err = k.runtimeHandler(ctx, pod)
	}
	var id string
	if err == nil {
		id, err = k.runtime.RunPodSandbox(ctx, cfg, handler)
	}
	if err != nil {
		k.podEvent(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+grpcMessage(err))
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	resp, err := k.runtime.PodSandboxStatus(ctx, id, false)
	if err != nil {
		return nil, fmt.Errorf("sandbox status: %w", err)
	}
	return resp.Status, nil
}

// prepareSandboxDirs makes the pod's log directory (the runtime writes
// into it but does not create it) and the kubelet's pod directory.
func (k *Kubelet) prepareSandboxDirs(pod *corev1.Pod) error {
	if k.cfg.Hollow {
		return nil
	}
	if err := os.MkdirAll(k.podLogDir(pod), 0o755); err != nil {
		return err
	}
	return os.MkdirAll(k.podDir(string(pod.UID)), 0o750)
}

func copyStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// formatPod is name_namespace(uid), as upstream names pods in messages.
func formatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
