// Package containerdtest starts managed containerds for tests and checks
// that they leave nothing behind. It skips tests, through one helper, on
// machines that cannot run containers. It owns no production code path.
package containerdtest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/cri"
)

// EnvVerbose, set to anything, sends containerd's start and stop events
// to the test log's stderr; by default they are dropped.
const EnvVerbose = "SKIFF_TEST_VERBOSE"

// SkipUnlessAvailable skips tb unless this machine can run containers
// under a managed containerd: root, containerd, runc and the runc shim.
func SkipUnlessAvailable(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root to run containerd")
	}
	for _, bin := range []string{containerd.DefaultBinary, "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
				tb.Skipf("needs %s (Debian packages containerd and runc): %v", bin, err)
			}
		}
	}
}

// DataDir makes a short temp dir for a node, removed when tb ends. It is
// short on purpose: the containerd socket under it must fit in a unix
// socket path, which test-named temp dirs can exceed.
func DataDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "skiff-ctd-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("containerdtest: removing %s: %v", dir, err)
		}
	})
	return dir
}

// Start starts a containerd for tb on cfg; an empty cfg.DataDir gets
// DataDir(tb). When tb ends, it stops containerd, runs Cleanup, and
// fails tb if Leftovers finds anything (processes, mounts, cgroups).
func Start(tb testing.TB, cfg containerd.Config) *containerd.Runtime {
	tb.Helper()
	SkipUnlessAvailable(tb)
	if cfg.DataDir == "" {
		cfg.DataDir = DataDir(tb)
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := containerd.Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("containerdtest: %v", err)
	}
	tb.Cleanup(func() { StopAndClean(tb, rt) })
	return rt
}

// StopAndClean stops rt, cleans up after it and asserts nothing is left.
// Start registers it; tests that must check the host before they end call
// it themselves (calling it twice is harmless).
func StopAndClean(tb testing.TB, rt *containerd.Runtime) {
	tb.Helper()
	if err := rt.Stop(); err != nil {
		tb.Errorf("containerdtest: stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := containerd.Cleanup(ctx, rt.Config()); err != nil {
		tb.Errorf("containerdtest: cleanup: %v", err)
	}
	left, err := containerd.Leftovers(rt.Config())
	if err != nil {
		tb.Errorf("containerdtest: %v", err)
	}
	for _, l := range left {
		tb.Errorf("containerdtest: left behind: %s", l)
	}
	// A second opinion from outside the package: no process mentions the
	// node's directory (containerd's --config, shims' -address) and
	// nothing is mounted below it.
	dir := rt.Config().Dir()
	if out, err := exec.Command("pgrep", "-af", regexp.QuoteMeta(dir)).Output(); err == nil {
		tb.Errorf("containerdtest: processes left behind:\n%s", out)
	}
	if mounts, err := os.ReadFile("/proc/mounts"); err == nil && strings.Contains(string(mounts), " "+dir) {
		tb.Errorf("containerdtest: mounts left under %s", dir)
	}
}

// Dial returns a CRI client of rt, closed when tb ends.
func Dial(tb testing.TB, rt *containerd.Runtime) *cri.Remote {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := cri.Dial(ctx, rt.Endpoint())
	if err != nil {
		tb.Fatalf("containerdtest: %v", err)
	}
	tb.Cleanup(func() { _ = client.Close(context.Background()) })
	return client
}

// Logger is the logger test runtimes get: quiet unless EnvVerbose is set.
func Logger() *slog.Logger {
	if os.Getenv(EnvVerbose) != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
