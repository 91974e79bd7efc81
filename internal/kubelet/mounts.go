package kubelet

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// makeMounts turns a container's volumeMounts into CRI mounts using the
// host paths the VolumeManager returned, and adds the kubelet's own:
// /etc/hosts and the termination message file. Hollow nodes have no
// volumes and get no mounts.
func (k *Kubelet) makeMounts(pod *corev1.Pod, c *corev1.Container, vols map[string]string, env *envList) ([]*runtimeapi.Mount, error) {
	if k.cfg.Hollow {
		return nil, nil
	}
	var mounts []*runtimeapi.Mount
	hasHosts := false
	for _, vm := range c.VolumeMounts {
		host, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expand(vm.SubPathExpr, env.lookup)
			if strings.Contains(sub, "$(") {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: subPathExpr %q has an undefined variable", vm.Name, c.Name, vm.SubPathExpr)
			}
		}
		if sub != "" {
			resolved, err := resolveSubPath(host, sub)
			if err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", vm.Name, c.Name, err)
			}
			host = resolved
		}
		hasHosts = hasHosts || vm.MountPath == "/etc/hosts"
		mounts = append(mounts, &runtimeapi.Mount{
			ContainerPath: vm.MountPath,
			HostPath:      host,
			Readonly:      vm.ReadOnly,
			Propagation:   propagationOf(vm.MountPropagation),
		})
	}
	if !hasHosts {
		if hosts := k.hostsFilePath(pod); hosts != "" {
			mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: hosts})
		}
	}
	if c.TerminationMessagePath != "" {
		path, err := k.newTerminationFile(pod, c)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: path})
	}
	return mounts, nil
}

func propagationOf(p *corev1.MountPropagationMode) runtimeapi.MountPropagation {
	if p == nil {
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
	}
	switch *p {
	case corev1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
	case corev1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	}
	return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
}

// newTerminationFile creates the host file a container instance writes
// its termination message to: one per instance, so a restart does not
// inherit the previous message.
func (k *Kubelet) newTerminationFile(pod *corev1.Pod, c *corev1.Container) (string, error) {
	dir := filepath.Join(k.podDir(string(pod.UID)), "containers", c.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	path := filepath.Join(dir, hex.EncodeToString(b[:]))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o666)
	if err != nil {
		return "", fmt.Errorf("create termination message file: %w", err)
	}
	_ = f.Close()
	// The container may run as any user: let it write (umask aside).
	return path, os.Chmod(path, 0o666)
}
