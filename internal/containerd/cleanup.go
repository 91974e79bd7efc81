package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/cri"
)

// Cleanup removes everything a managed containerd left on the host: it
// starts containerd on cfg once more, stops and removes every pod sandbox
// and container through the CRI (so shims exit and the runtime unmounts
// rootfs, shm and netns mounts and releases pod IPs through CNI), stops
// it, and then, for whatever is left, kills remaining shims and pod
// processes, unmounts everything under the containerd directories,
// removes the cgroup parent and deletes Root, State and <DataDir>/containerd.
//
// The runtime must be stopped first (Runtime.Stop): Cleanup refuses to
// run while something answers on cfg.Socket. The CNI config directory is
// left alone; it belongs to whoever wrote it.
func Cleanup(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	log := cfg.Logger.With("component", "containerd")
	if socketAnswers(cfg.Socket) {
		return fmt.Errorf("containerd: %s still answers; stop the runtime before Cleanup", cfg.Socket)
	}
	var errs []error
	if hasCRIObjects(cfg) {
		if err := removeAllPods(ctx, cfg); err != nil {
			errs = append(errs, err)
		}
	}
	// What follows only finds something when the CRI could not do its job
	// (containerd would not start, or a removal failed).
	if pids, err := processesOf(cfg); err != nil {
		errs = append(errs, err)
	} else if len(pids) > 0 {
		log.Warn("killing leftover containerd processes", "pids", pids)
		sockets := shimSockets(pids)
		killAll(pids)
		waitGone(pids, 5*time.Second)
		for _, s := range sockets {
			_ = os.Remove(s)
		}
	}
	if pids := cgroupProcs(cfg.CgroupParent); len(pids) > 0 {
		log.Warn("killing leftover pod processes", "cgroup", cfg.CgroupParent, "pids", pids)
		killAll(pids)
		waitGone(pids, 5*time.Second)
	}
	if err := unmountAll(cfg.Dir(), cfg.Root, cfg.State); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroups(cfg.CgroupParent); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []string{cfg.Root, cfg.State, cfg.Socket, cfg.Socket + ".ttrpc", cfg.Dir()} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("containerd: %w", err))
		}
	}
	return errors.Join(errs...)
}

// removeAllPods runs containerd on cfg and removes every sandbox and
// container through the CRI.
func removeAllPods(ctx context.Context, cfg Config) error {
	rt, err := Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("containerd: cleanup could not start containerd: %w", err)
	}
	defer rt.Stop()
	client, err := cri.Dial(ctx, rt.Endpoint())
	if err != nil {
		return err
	}
	defer client.Close(ctx)
	var errs []error
	sandboxes, err := client.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	for _, sb := range sandboxes {
		if err := client.StopPodSandbox(ctx, sb.Id); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
		if err := client.RemovePodSandbox(ctx, sb.Id); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	// Containers whose sandbox is gone are not removed with it.
	containers, err := client.ListContainers(ctx, nil)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, c := range containers {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			if err := client.StopContainer(ctx, c.Id, 0); err != nil && !cri.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		if err := client.RemoveContainer(ctx, c.Id); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leftovers describes what of cfg's containerd is still on the host:
// its processes (containerd, shims), mounts under its directories, its
// cgroup parent and its Root and State directories. After Stop and
// Cleanup it is empty; tests assert that.
func Leftovers(cfg Config) ([]string, error) {
	cfg = cfg.WithDefaults()
	var out []string
	pids, err := processesOf(cfg)
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, fmt.Sprintf("process %d: %s", pid, printable(cmd)))
	}
	mounts, err := mountsUnder(cfg.Dir(), cfg.Root, cfg.State)
	if err != nil {
		return nil, err
	}
	for _, mp := range mounts {
		out = append(out, "mount "+mp)
	}
	for _, dir := range cgroupDirs(cfg.CgroupParent) {
		out = append(out, "cgroup "+dir)
	}
	for _, dir := range []string{cfg.Root, cfg.State} {
		if exists(dir) {
			out = append(out, "directory "+dir)
		}
	}
	return out, nil
}

// hasCRIObjects reports whether the CRI plugin keeps any sandbox or
// container in cfg's Root: each has a directory there from creation to
// removal. Without any, Cleanup need not start containerd.
func hasCRIObjects(cfg Config) bool {
	for _, kind := range []string{"sandboxes", "containers"} {
		entries, err := os.ReadDir(filepath.Join(cfg.Root, "io.containerd.grpc.v1.cri", kind))
		if err == nil && len(entries) > 0 {
			return true
		}
		if err != nil && !os.IsNotExist(err) {
			return true // cannot tell: ask the runtime
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// waitGone waits until none of pids runs, or timeout. Zombies count as
// gone: a killed shim's parent is init, which reaps when it gets to it.
func waitGone(pids []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		alive := false
		for _, pid := range pids {
			if running(pid) {
				alive = true
				break
			}
		}
		if !alive {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain ") ".
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// printable turns a NUL-separated command line into one line.
func printable(cmdline []byte) string {
	b := make([]byte, len(cmdline))
	for i, c := range cmdline {
		if c == 0 {
			c = ' '
		}
		b[i] = c
	}
	return string(b)
}
