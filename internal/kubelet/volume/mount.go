package volume

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// mountInfoPath is read, not /proc/mounts, because mountinfo names every
// mount point of this mount namespace unambiguously (octal escapes).
const mountInfoPath = "/proc/self/mountinfo"

// MountPointsUnder lists the mount points at or below dir (deepest first),
// from /proc/self/mountinfo. dir should be an absolute, symlink-free path,
// as the kernel reports mount points that way. Tests use it to prove that
// nothing is left mounted.
func MountPointsUnder(dir string) ([]string, error) {
	f, err := os.Open(mountInfoPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", mountInfoPath, err)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMountPath undoes the kernel's \ooo escaping of space, tab,
// newline and backslash in mountinfo paths.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isMountPoint(dir string) (bool, error) {
	mps, err := MountPointsUnder(dir)
	if err != nil {
		return false, err
	}
	for _, mp := range mps {
		if mp == filepath.Clean(dir) {
			return true, nil
		}
	}
	return false, nil
}

// ensureTmpfs mounts a tmpfs of size() bytes (0: the kernel's default,
// half of RAM) on dir unless one is mounted there already. nosuid and
// nodev: nothing in a pod volume needs setuid binaries or device nodes.
func ensureTmpfs(dir string, size func() int64) error {
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if mounted {
		return nil
	}
	data := "mode=0755"
	if sizeBytes := size(); sizeBytes > 0 {
		data += ",size=" + strconv.FormatInt(sizeBytes, 10)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// unmountAll unmounts every mount at or below dir, deepest first. A busy
// mount (a container still holds it) is detached lazily so teardown does
// not wedge; the kernel frees it when the last user goes.
func unmountAll(dir string) error {
	mps, err := MountPointsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range mps {
		err := syscall.Unmount(mp, 0)
		if errors.Is(err, syscall.EBUSY) {
			err = syscall.Unmount(mp, syscall.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, syscall.EINVAL) { // EINVAL: no longer a mount point
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}
