package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The atomic writer's layout inside a volume directory, as upstream's:
//
//	..2026_11_27_00_00_00.123456789/   one generation of the files
//	..data -> ..2026_11_27_00_00_00.123456789
//	key    -> ..data/key               one symlink per top-level entry
//
// A new generation is written beside the old one and ..data is swapped to
// it with rename(2), so a container reading key/... sees either the old
// files or the new ones, never a mix. The old generation is removed after.
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
	tsLayout    = "..2006_01_02_15_04_05."
)

// fileProjection is one file of an atomic-writer volume.
type fileProjection struct {
	Data []byte
	Mode os.FileMode
}

// writeAtomic makes dir show exactly payload (cleaned relative path →
// file). It reports whether anything changed; an unchanged payload leaves
// ..data alone so readers see no churn. Nothing it writes or deletes
// follows a symlink.
func writeAtomic(dir string, payload map[string]fileProjection, now time.Time) (bool, error) {
	top, err := checkPayload(payload)
	if err != nil {
		return false, err
	}
	oldTs, err := currentGeneration(dir)
	if err != nil {
		return false, err
	}
	if oldTs != "" {
		cur, err := readGeneration(filepath.Join(dir, oldTs))
		if err == nil && samePayload(cur, payload) {
			// Same content; repair visible links a crash may have left out.
			return false, linkVisible(dir, top)
		}
	}
	newTs, err := writeGeneration(dir, payload, now)
	if err != nil {
		return false, err
	}
	tmp := filepath.Join(dir, dataLinkTmp)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.Symlink(newTs, tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return false, fmt.Errorf("swap %s: %w", dataLink, err)
	}
	if err := linkVisible(dir, top); err != nil {
		return true, err
	}
	if err := unlinkStale(dir, top); err != nil {
		return true, err
	}
	return true, removeOldGenerations(dir, newTs)
}

// removeOldGenerations removes every generation directory but keep: the
// one ..data pointed at before, and any a crashed write left behind.
// Visible names never start with "..", so every such directory is ours.
func removeOldGenerations(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, "..") && e.IsDir() && n != keep {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("remove old generation: %w", err)
			}
		}
	}
	return nil
}

// checkPayload validates every path and returns the set of top-level
// names; a file may not also be a directory of another ("a" and "a/b").
func checkPayload(payload map[string]fileProjection) (map[string]bool, error) {
	top := map[string]bool{}
	for p, f := range payload {
		c, err := cleanItemPath(p)
		if err != nil {
			return nil, err
		}
		if c != p {
			return nil, fmt.Errorf("internal error: payload path %q not cleaned", p)
		}
		if f.Mode&^os.ModePerm != 0 {
			return nil, fmt.Errorf("invalid mode %#o for %q: must be between 0 and 0777", uint32(f.Mode), p)
		}
		for dir := filepath.Dir(p); dir != "."; dir = filepath.Dir(dir) {
			if _, clash := payload[dir]; clash {
				return nil, fmt.Errorf("path %q conflicts with file %q", p, dir)
			}
		}
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	return top, nil
}

// currentGeneration is the directory name ..data points at, or "".
func currentGeneration(dir string) (string, error) {
	target, err := os.Readlink(filepath.Join(dir, dataLink))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s link: %w", dataLink, err)
	}
	if !strings.HasPrefix(target, "..") || strings.Contains(target, "/") || target == dataLink {
		return "", fmt.Errorf("%s points at %q, not a generation directory", dataLink, target)
	}
	return target, nil
}

func writeGeneration(dir string, payload map[string]fileProjection, now time.Time) (string, error) {
	genDir, err := os.MkdirTemp(dir, now.UTC().Format(tsLayout)+"*")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(genDir, 0o755); err != nil {
		return "", err
	}
	for p, f := range payload {
		full := filepath.Join(genDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := writeFileNoFollow(full, f.Data, f.Mode); err != nil {
			return "", err
		}
	}
	return filepath.Base(genDir), nil
}

// writeFileNoFollow creates a new file; O_EXCL|O_NOFOLLOW refuse a path
// that already exists, symlink or not.
func writeFileNoFollow(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return cerr
	}
	return os.Chmod(path, mode) // the umask trimmed OpenFile's mode
}

// readGeneration reads back a generation; a symlink or other odd entry in
// it makes it unreadable, so the caller rewrites.
func readGeneration(genDir string) (map[string]fileProjection, error) {
	out := map[string]fileProjection{}
	err := filepath.WalkDir(genDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(genDir, path)
		out[rel] = fileProjection{Data: data, Mode: st.Mode().Perm()}
		return nil
	})
	return out, err
}

func samePayload(a, b map[string]fileProjection) bool {
	if len(a) != len(b) {
		return false
	}
	for p, fa := range a {
		fb, ok := b[p]
		if !ok || fa.Mode != fb.Mode || !bytes.Equal(fa.Data, fb.Data) {
			return false
		}
	}
	return true
}

// linkVisible makes name -> ..data/name for every top-level name, swapping
// in a fresh link with rename where something else is there.
func linkVisible(dir string, top map[string]bool) error {
	names := make([]string, 0, len(top))
	for n := range top {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		want := filepath.Join(dataLink, n)
		path := filepath.Join(dir, n)
		if got, err := os.Readlink(path); err == nil && got == want {
			continue
		}
		tmp := filepath.Join(dir, dataLinkTmp+"_"+n)
		_ = os.Remove(tmp)
		if err := os.Symlink(want, tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("link %s: %w", n, err)
		}
	}
	return nil
}

// unlinkStale removes visible links into ..data whose name left the
// payload. os.Remove on a symlink removes the link, not its target.
func unlinkStale(dir string, top map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") || top[n] || e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		if target, err := os.Readlink(filepath.Join(dir, n)); err == nil && strings.HasPrefix(target, dataLink+"/") {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}
