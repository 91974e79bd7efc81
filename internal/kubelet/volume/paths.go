package volume

import (
	"fmt"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// Plugin directory names under <root>/pods/<uid>/volumes, as upstream's
// kubelet names them, so tools that know that layout find things.
const (
	pluginEmptyDir    = "kubernetes.io~empty-dir"
	pluginConfigMap   = "kubernetes.io~configmap"
	pluginSecret      = "kubernetes.io~secret"
	pluginProjected   = "kubernetes.io~projected"
	pluginDownwardAPI = "kubernetes.io~downward-api"
)

// podDir is <root>/pods/<uid>; uid must have passed checkName.
func (m *Manager) podDir(uid types.UID) string {
	return filepath.Join(m.root, "pods", string(uid))
}

// podVolumesDir is the one directory TearDown removes.
func (m *Manager) podVolumesDir(uid types.UID) string {
	return filepath.Join(m.podDir(uid), "volumes")
}

func (m *Manager) volumeDir(uid types.UID, plugin, name string) string {
	return filepath.Join(m.podVolumesDir(uid), plugin, name)
}

// checkName accepts a single path component that cannot climb out of or
// alias its parent: pod UIDs and volume names become directory names.
func checkName(kind, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid %s %q: must be a single non-empty path component", kind, name)
	}
	return nil
}

// cleanItemPath checks the relative path of a file inside a volume (a
// configMap item's path, a downwardAPI file) and returns it cleaned: no
// absolute paths, no ".." components, and no leading ".." so it cannot
// shadow the atomic writer's own entries (..data, the timestamped
// directories).
func cleanItemPath(p string) (string, error) {
	switch {
	case p == "":
		return "", fmt.Errorf("invalid path %q: must not be empty", p)
	case filepath.IsAbs(p):
		return "", fmt.Errorf("invalid path %q: must be relative", p)
	case strings.Contains(p, "\x00"):
		return "", fmt.Errorf("invalid path %q: contains a NUL byte", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	c := filepath.Clean(p)
	if c == "." || strings.HasPrefix(c, "..") {
		return "", fmt.Errorf("invalid path %q: must name a file and must not start with '..'", p)
	}
	return c, nil
}
