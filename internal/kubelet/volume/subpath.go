package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinks bounds symlink hops, as the kernel's ELOOP limit does.
const maxSymlinks = 40

// maxCreated bounds the directories one SafeSubPath call creates.
const maxCreated = 256

// SafeSubPath resolves a volumeMount's subPath inside the volume at
// volumeRoot and returns the host path to bind-mount. Containers can write
// symlinks into a volume, so the subPath is walked one component at a
// time with Lstat and every symlink is resolved against the volume root
// by hand: a link that leads outside the volume (an absolute target
// elsewhere on the host, or enough ".." to climb out) is refused, which
// closes the CVE-2017-1002101 class of escapes. Missing components are
// created as directories with the volume root's permissions, as upstream.
// volumeRoot itself is trusted and may be a symlink (hostPath).
//
// The returned path is free of symlinks at the time of the call; a
// container that can write the volume could swap a component for a link
// afterwards, so the kubelet should call this right before creating the
// container that mounts it.
func SafeSubPath(volumeRoot, subPath string) (string, error) {
	if !filepath.IsAbs(volumeRoot) {
		return "", fmt.Errorf("volume path %q must be absolute", volumeRoot)
	}
	root, err := filepath.EvalSymlinks(volumeRoot)
	if err != nil {
		return "", fmt.Errorf("resolving volume path: %w", err)
	}
	if subPath == "" {
		return root, nil
	}
	if filepath.IsAbs(subPath) {
		return "", fmt.Errorf("subPath %q must be a relative path", subPath)
	}
	for _, part := range strings.Split(subPath, "/") {
		if part == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", subPath)
		}
	}
	rootInfo, err := os.Stat(root)
	if err != nil {
		return "", err
	}
	if !rootInfo.IsDir() {
		return "", fmt.Errorf("subPath %q: volume path %s is not a directory", subPath, volumeRoot)
	}
	escape := func(link, target string) error {
		return fmt.Errorf("subPath %q is not within volume path %s: symlink %s points to %q, outside the volume",
			subPath, volumeRoot, link, target)
	}
	var resolved []string
	pending := strings.Split(subPath, "/")
	links, created := 0, 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..": // only from a symlink's target
			if len(resolved) == 0 {
				return "", fmt.Errorf("subPath %q climbs out of volume path %s", subPath, volumeRoot)
			}
			resolved = resolved[:len(resolved)-1]
			continue
		}
		cur := filepath.Join(root, filepath.Join(resolved...), c)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			if created++; created > maxCreated { // something keeps removing what we make
				return "", fmt.Errorf("subPath %q: directories keep disappearing while being created", subPath)
			}
			if err := mkdirNoFollow(cur, rootInfo.Mode().Perm()); err != nil {
				return "", fmt.Errorf("subPath %q: %w", subPath, err)
			}
			pending = append([]string{c}, pending...) // look at what is there now
			continue
		}
		if err != nil {
			return "", err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return "", fmt.Errorf("subPath %q: too many levels of symbolic links", subPath)
			}
			target, err := os.Readlink(cur)
			if err != nil {
				return "", err
			}
			if filepath.IsAbs(target) {
				rel, err := filepath.Rel(root, filepath.Clean(target))
				if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
					return "", escape(cur, target)
				}
				resolved = nil
				target = rel
			}
			pending = append(strings.Split(target, "/"), pending...)
		case fi.IsDir():
			resolved = append(resolved, c)
		default:
			for _, rest := range pending {
				if rest != "" && rest != "." {
					return "", fmt.Errorf("subPath %q: %s is not a directory", subPath, cur)
				}
			}
			resolved = append(resolved, c)
		}
	}
	return filepath.Join(root, filepath.Join(resolved...)), nil
}

// mkdirNoFollow makes a directory and sets its mode through a handle
// opened without following symlinks, so a link raced in after mkdir
// cannot redirect the chmod. An existing entry is not an error: the
// caller looks at it again.
func mkdirNoFollow(path string, perm os.FileMode) error {
	if err := os.Mkdir(path, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(perm)
}
