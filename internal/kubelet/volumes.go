package kubelet

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// VolumeManager makes a pod's volumes available on the host.
// internal/kubelet/volume implements it; NoVolumes is for nodes that
// mount nothing (hollow nodes).
type VolumeManager interface {
	// SetUp prepares every volume in pod.Spec.Volumes and returns, for each
	// volume name, the host directory (or file) that backs it. It is called
	// on every sync before containers are created, so it must be idempotent;
	// an error keeps the pod's containers from being created and is reported
	// as a FailedMount event. The returned map is owned by the caller.
	SetUp(ctx context.Context, pod *corev1.Pod) (map[string]string, error)
	// TearDown removes whatever SetUp made for the pod; called after all of
	// the pod's containers stopped. Idempotent; nil when nothing is left.
	TearDown(ctx context.Context, podUID types.UID) error
}

// NoVolumes is a VolumeManager that sets nothing up: each volume maps to
// no host path, and mounts naming it are skipped. For hollow nodes.
type NoVolumes struct{}

var _ VolumeManager = NoVolumes{}

// SetUp returns an empty map.
func (NoVolumes) SetUp(context.Context, *corev1.Pod) (map[string]string, error) {
	return map[string]string{}, nil
}

// TearDown does nothing.
func (NoVolumes) TearDown(context.Context, types.UID) error { return nil }
