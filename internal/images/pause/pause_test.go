package pause

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the pause program: run with runAsPause set,
// it is pause and nothing else.
const runAsPause = "SKIFF_TEST_RUN_AS_PAUSE"

func TestMain(m *testing.M) {
	if os.Getenv(runAsPause) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// startPause runs pause as PID 1 of a new PID namespace, as in a pod
// sandbox.
func startPause(t *testing.T) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runAsPause+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pause: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// children lists the host PIDs whose parent is pid, with their state.
func children(t *testing.T, pid int) map[int]string {
	t.Helper()
	out := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var ppid int
		var state string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			switch k {
			case "PPid":
				ppid, _ = strconv.Atoi(strings.TrimSpace(v))
			case "State":
				state = strings.TrimSpace(v)
			}
		}
		f.Close()
		if ppid == pid {
			out[child] = state
		}
	}
	return out
}

// TestPauseReapsOrphansAndExitsZero checks, for each stop signal, that
// pause reaps orphans and exits 0. Reaping also proves pause's signal
// handlers are installed (it reaps only after subscribing), so the stop
// signal is not sent too early.
func TestPauseReapsOrphansAndExitsZero(t *testing.T) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := startPause(t)
			pid := cmd.Process.Pid
			// A shell entered into pause's PID namespace leaves a
			// background child behind; the orphan is reparented to pause,
			// its namespace's init, and must be reaped when it exits.
			sh := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-p", "--", "/bin/busybox", "sh", "-c",
				"/bin/busybox sleep 0.5 >/dev/null 2>&1 </dev/null & exit 0")
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("nsenter: %v: %s", err, out)
			}
			if got := children(t, pid); len(got) == 0 {
				t.Fatal("the orphan was not reparented to pause")
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(children(t, pid)) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("pause did not reap its children: %v", children(t, pid))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, cmd); code != 0 {
				t.Errorf("exit code after %v = %d, want 0", sig, code)
			}
		})
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal(fmt.Sprintf("pause (pid %d) did not exit", cmd.Process.Pid))
		return -1
	}
}
