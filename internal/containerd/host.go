package containerd

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// This file reads and undoes what a containerd leaves on the host beyond
// its directories: mounts, shim processes and pod cgroups.

// mountsUnder returns the mount points at or below any of dirs, deepest
// first (the reverse of mount order), so unmounting them in order works.
func mountsUnder(dirs ...string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("containerd: reading mounts: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		for _, d := range dirs {
			if d != "" && (mp == d || strings.HasPrefix(mp, strings.TrimSuffix(d, "/")+"/")) {
				out = append(out, mp)
				break
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountAll lazily unmounts every mount at or below dirs.
func unmountAll(dirs ...string) error {
	mounts, err := mountsUnder(dirs...)
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range mounts {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("containerd: unmounting %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// processesOf returns the PIDs of cfg's containerd and of the shims it
// started, found by their command lines: containerd runs with
// "--config <ConfigPath>", a shim with "-address <Socket>".
func processesOf(cfg Config) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("containerd: listing processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if hasArgPair(args, "--config", cfg.ConfigPath()) || hasArgPair(args, "-address", cfg.Socket) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// shimSocketDir is where containerd 1.6 shims put their sockets whatever
// containerd's state dir: /run/containerd/s.
const shimSocketDir = "/run/containerd/s"

// shimSockets returns the socket paths of the shims among pids: a shim
// killed rather than shut down leaves its socket behind. containerd 1.6
// names it by the SHA-256 of "<containerd address>/<namespace>/<id>".
func shimSockets(pids []int) []string {
	var out []string
	for _, pid := range pids {
		raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		address, ns, id := argValue(args, "-address"), argValue(args, "-namespace"), argValue(args, "-id")
		if address == "" || ns == "" || id == "" {
			continue
		}
		sum := sha256.Sum256([]byte(filepath.Join(address, ns, id)))
		out = append(out, filepath.Join(shimSocketDir, hex.EncodeToString(sum[:])))
	}
	return out
}

// argValue returns the value after flag in args, "" if absent.
func argValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

func hasArgPair(args []string, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && args[i+1] == value {
			return true
		}
	}
	for _, a := range args {
		if a == flag+"="+value {
			return true
		}
	}
	return false
}

// cgroupRoot is where the cgroup v1 controllers (and the unified
// hierarchy) are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupDirs returns the directories of the cgroup parent in every
// hierarchy it exists in.
func cgroupDirs(parent string) []string {
	if parent == "" || parent == "/" {
		return nil
	}
	hierarchies, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range hierarchies {
		dir := filepath.Join(cgroupRoot, h.Name(), parent)
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			out = append(out, dir)
		}
	}
	return out
}

// cgroupProcs returns the PIDs in a cgroup parent and all its children.
func cgroupProcs(parent string) []int {
	seen := map[int]bool{}
	for _, dir := range cgroupDirs(parent) {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return nil
			}
			defer f.Close()
			s := bufio.NewScanner(f)
			for s.Scan() {
				if pid, err := strconv.Atoi(strings.TrimSpace(s.Text())); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	pids := make([]int, 0, len(seen))
	for pid := range seen {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// removeCgroups removes the cgroup parent and its children in every
// hierarchy, deepest first; cgroups can only be removed with rmdir, and
// only once empty of processes.
func removeCgroups(parent string) error {
	var errs []error
	for _, dir := range cgroupDirs(parent) {
		var subdirs []string
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				subdirs = append(subdirs, path)
			}
			return nil
		})
		sort.Slice(subdirs, func(i, j int) bool { return len(subdirs[i]) > len(subdirs[j]) })
		for _, sub := range subdirs {
			if err := syscall.Rmdir(sub); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("containerd: removing cgroup %s: %w", sub, err))
			}
		}
	}
	return errors.Join(errs...)
}

// killAll sends SIGKILL to pids; processes already gone are fine.
func killAll(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
