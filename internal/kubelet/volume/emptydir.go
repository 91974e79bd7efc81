package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// setUpEmptyDir makes the volume's directory, world-writable as upstream
// (containers may run as any user), on a tmpfs for medium Memory.
func (m *Manager) setUpEmptyDir(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (string, error) {
	dir := m.volumeDir(pod.UID, pluginEmptyDir, v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	switch v.EmptyDir.Medium {
	case corev1.StorageMediumDefault:
	case corev1.StorageMediumMemory:
		if err := ensureTmpfs(dir, func() int64 { return m.memoryVolumeSize(ctx, pod, v.EmptyDir.SizeLimit) }); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("emptyDir medium %q is not supported (only \"\" and %q)", v.EmptyDir.Medium, corev1.StorageMediumMemory)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", err
	}
	return dir, nil
}

// memoryVolumeSize sizes a tmpfs: the volume's sizeLimit if set, else the
// pod's memory limit if every container sets one, else the node's
// allocatable memory (upstream's rule for memory-backed emptyDirs).
func (m *Manager) memoryVolumeSize(ctx context.Context, pod *corev1.Pod, sizeLimit *resource.Quantity) int64 {
	if sizeLimit != nil && sizeLimit.Value() > 0 {
		return sizeLimit.Value()
	}
	if lim := podMemoryLimit(pod); lim > 0 {
		return lim
	}
	alloc := m.nodeAllocatable(ctx)
	if q, ok := alloc[corev1.ResourceMemory]; ok {
		return q.Value()
	}
	return 0
}

// podMemoryLimit sums the app containers' memory limits (init containers
// run before them, so the larger of the two sums bounds the pod); 0 if any
// container has none.
func podMemoryLimit(pod *corev1.Pod) int64 {
	var apps int64
	for _, c := range pod.Spec.Containers {
		q, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok || q.IsZero() {
			return 0
		}
		apps += q.Value()
	}
	var inits int64
	for _, c := range pod.Spec.InitContainers {
		q, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok || q.IsZero() {
			return 0
		}
		inits = max(inits, q.Value())
	}
	return max(apps, inits)
}

// diskUsage sums the blocks allocated below dir, counting hard-linked
// files once and not following symlinks.
func diskUsage(dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed under us by the container
				return nil
			}
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return nil
			}
			return err
		}
		key := inode{uint64(st.Dev), st.Ino}
		if seen[key] {
			return nil
		}
		seen[key] = true
		total += st.Blocks * 512
		return nil
	})
	return total, err
}
