package kubelet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resolveSubPath returns the host path of subPath inside the volume at
// base, creating missing directories, and refuses any path that leaves
// the volume: ".." components and absolute paths outright, and symlinks
// (planted by a container that shares the volume) whose target resolves
// outside it. It walks one component at a time, resolving each with
// filepath.EvalSymlinks and checking the result is still under the
// volume's own resolved path.
//
// What this cannot close is the window between the check and the
// runtime's bind mount: a container writing to the volume could swap a
// checked directory for a symlink in between. Upstream closes it by
// handing the runtime /proc/self/fd/<n> of a descriptor opened with
// openat(O_NOFOLLOW) component by component; skiff does not yet.
func resolveSubPath(base, subPath string) (string, error) {
	if filepath.IsAbs(subPath) {
		return "", fmt.Errorf("subPath %q must be a relative path", subPath)
	}
	for _, part := range strings.Split(filepath.ToSlash(subPath), "/") {
		if part == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", subPath)
		}
	}
	root, err := filepath.EvalSymlinks(base)
	if err != nil {
		return "", fmt.Errorf("volume path %q: %w", base, err)
	}
	cur := root
	for _, part := range strings.Split(filepath.Clean(filepath.ToSlash(subPath)), "/") {
		if part == "" || part == "." {
			continue
		}
		next := filepath.Join(cur, part)
		if _, err := os.Lstat(next); errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(next, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return "", fmt.Errorf("create subPath %q: %w", subPath, err)
			}
		} else if err != nil {
			return "", err
		}
		resolved, err := filepath.EvalSymlinks(next)
		if err != nil {
			return "", fmt.Errorf("subPath %q: %w", subPath, err)
		}
		if !within(root, resolved) {
			return "", fmt.Errorf("subPath %q resolves to %q, outside the volume %q", subPath, resolved, base)
		}
		cur = resolved
	}
	return cur, nil
}

// within says path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
