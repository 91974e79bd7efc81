package containerd_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/containerd/containerdtest"
	"github.com/skiff-sh/skiff/internal/cri"
)

func TestStartStop(t *testing.T) {
	rt := containerdtest.Start(t, containerd.Config{})
	t.Logf("containerd ready after %v", rt.ReadyAfter())
	cfg := rt.Config()

	client := containerdtest.Dial(t, rt)
	v := client.RuntimeVersion()
	if v.RuntimeName != "containerd" || v.RuntimeApiVersion != "v1" {
		t.Errorf("version %+v, want containerd with CRI v1", v)
	}
	conf, err := os.ReadFile(cfg.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	hasCap, err := containerd.HasCapSysResource()
	if err != nil {
		t.Fatal(err)
	}
	want := "restrict_oom_score_adj = " + strconv.FormatBool(!hasCap)
	if !strings.Contains(string(conf), want) || rt.RestrictsOOMScoreAdj() == hasCap {
		t.Errorf("config lacks %q for a process with CAP_SYS_RESOURCE=%v", want, hasCap)
	}
	if _, err := os.Stat(cfg.LogPath()); err != nil {
		t.Errorf("no containerd log: %v", err)
	}

	pid := rt.Pid()
	stopStart := time.Now()
	if err := rt.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("containerd stopped in %v", time.Since(stopStart).Round(time.Millisecond))
	if err := rt.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	select {
	case <-rt.Done():
	default:
		t.Errorf("Done not closed after Stop")
	}
	if processExists(pid) {
		t.Errorf("containerd %d still runs after Stop", pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := cri.Dial(ctx, rt.Endpoint()); err == nil {
		t.Errorf("CRI still answers after Stop")
	}
}

func TestRestartAfterCrash(t *testing.T) {
	rt := containerdtest.Start(t, containerd.Config{})
	client := containerdtest.Dial(t, rt)
	old := rt.Pid()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for rt.Restarts() < 1 || rt.Pid() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("containerd not restarted 30s after it was killed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rt.Pid() == old {
		t.Fatalf("pid unchanged after restart")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.Version(ctx, cri.APIVersion); err != nil {
		t.Fatalf("CRI after restart: %v", err)
	}
}

func TestStartRefusesBusySocket(t *testing.T) {
	rt := containerdtest.Start(t, containerd.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second, err := containerd.Start(ctx, rt.Config())
	if err == nil {
		second.Stop()
		t.Fatal("second containerd on the same socket started")
	}
	if !strings.Contains(err.Error(), "already serves") {
		t.Errorf("error %v, want one saying the socket is taken", err)
	}
	if err := containerd.Cleanup(ctx, rt.Config()); err == nil || !strings.Contains(err.Error(), "stop the runtime") {
		t.Errorf("Cleanup of a running runtime: %v, want a refusal", err)
	}
}

func TestStartFailures(t *testing.T) {
	containerdtest.SkipUnlessAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err := containerd.Start(ctx, containerd.Config{DataDir: containerdtest.DataDir(t), Binary: "no-such-containerd"})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing binary: %v", err)
	}
	_, err = containerd.Start(ctx, containerd.Config{DataDir: containerdtest.DataDir(t), Binary: "/bin/false", Logger: containerdtest.Logger()})
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("binary that exits: %v", err)
	}
	_, err = containerd.Start(ctx, containerd.Config{DataDir: "relative"})
	if err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative data dir: %v", err)
	}
}

func TestCleanupWithNothingToClean(t *testing.T) {
	containerdtest.SkipUnlessAvailable(t)
	cfg := containerd.Config{DataDir: containerdtest.DataDir(t), Logger: containerdtest.Logger()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := containerd.Cleanup(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.Dir()); !os.IsNotExist(err) {
		t.Errorf("Cleanup created %s: %v", cfg.Dir(), err)
	}
	if left, err := containerd.Leftovers(cfg); err != nil || len(left) != 0 {
		t.Errorf("Leftovers = %v, %v", left, err)
	}
}

func processExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
