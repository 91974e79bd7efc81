package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// setUpHostPath checks (or creates) the host path per its type and
// returns it. Paths are the host's and are followed through symlinks, as
// upstream: an admin who allows hostPath trusts the pod with the host.
func setUpHostPath(hp *corev1.HostPathVolumeSource) (string, error) {
	path := hp.Path
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("hostPath %q must be an absolute path", path)
	}
	typ := corev1.HostPathUnset
	if hp.Type != nil {
		typ = *hp.Type
	}
	st, statErr := os.Stat(path)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return "", fmt.Errorf("hostPath type check failed: %w", statErr)
	}
	mode := fs.FileMode(0)
	if exists {
		mode = st.Mode()
	}
	switch typ {
	case corev1.HostPathUnset:
		return path, nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return "", fmt.Errorf("hostPath type check failed: creating directory %s: %w", path, err)
			}
			return path, nil
		}
		fallthrough
	case corev1.HostPathDirectory:
		if !exists || !mode.IsDir() {
			return "", typeCheckFailed(path, "a directory")
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			// Like upstream, the parent must already exist.
			f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
			if err != nil {
				return "", fmt.Errorf("hostPath type check failed: creating file %s: %w", path, err)
			}
			_ = f.Close()
			return path, nil
		}
		fallthrough
	case corev1.HostPathFile:
		if !exists || !mode.IsRegular() {
			return "", typeCheckFailed(path, "a file")
		}
	case corev1.HostPathSocket:
		if !exists || mode.Type() != fs.ModeSocket {
			return "", typeCheckFailed(path, "a socket file")
		}
	case corev1.HostPathCharDev:
		if !exists || mode.Type() != fs.ModeDevice|fs.ModeCharDevice {
			return "", typeCheckFailed(path, "a character device")
		}
	case corev1.HostPathBlockDev:
		if !exists || mode.Type() != fs.ModeDevice {
			return "", typeCheckFailed(path, "a block device")
		}
	default:
		return "", fmt.Errorf("invalid hostPath type %q", typ)
	}
	return path, nil
}

func typeCheckFailed(path, what string) error {
	return fmt.Errorf("hostPath type check failed: %s is not %s", path, what)
}
