package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	// skiffBin is the binary under test: $SKIFF_BIN, else built by TestMain.
	skiffBin string
	// shared is the server most tests use, each in its own namespace.
	shared *server
	// sharedErr says why shared could not be started; tests that need it
	// fail with it.
	sharedErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

// runMain builds (if needed) and starts the shared server, runs the tests
// and tears everything down. Without kubectl it runs the tests anyway so
// that each one reports the skip.
func runMain(m *testing.M) int {
	if p, err := exec.LookPath("kubectl"); err == nil {
		kubectlPath = p
	} else {
		fmt.Fprintln(os.Stderr, "e2e: kubectl is not on PATH; every e2e test will skip")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	skiffBin = os.Getenv("SKIFF_BIN")
	if skiffBin == "" {
		skiffBin = filepath.Join(dir, "skiff")
		build := exec.Command("go", "build", "-o", skiffBin, "github.com/skiff-sh/skiff/cmd/skiff")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building ./cmd/skiff: %v\n", err)
			return 1
		}
	}

	shared, sharedErr = startNewServer(skiffBin, filepath.Join(dir, "shared"))
	if sharedErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the shared skiff server: %v\n", sharedErr)
		// Run anyway: each test reports the failure, and tests with their
		// own server still run.
		code := m.Run()
		return max(code, stopNodeServer(), 1)
	}
	code := m.Run()
	code = max(code, stopNodeServer())
	if err := shared.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the shared server: %v\nlog tail:\n%s\n", err, shared.logTail(40))
		code = 1
	}
	return code
}

// sharedServer returns the package's server, skipping t if the machine
// cannot run the tier and failing it if the server could not start.
func sharedServer(t *testing.T) *server {
	t.Helper()
	requireKubectl(t)
	if sharedErr != nil {
		t.Fatalf("the shared skiff server did not start: %v", firstLine(sharedErr.Error()))
	}
	return shared
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (full log on stderr)"
	}
	return s
}

// useShared marks t as a user of the shared server: it checks the server
// is still alive and, if t fails, prints what the server logged meanwhile.
func useShared(t *testing.T) {
	t.Helper()
	s := sharedServer(t)
	if !s.running() {
		t.Fatalf("the shared server has exited (%v); log tail:\n%s", s.waitErr, s.logTail(40))
	}
	offset := s.logSize()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log during %s:\n%s", t.Name(), s.logSince(offset, 60))
		}
	})
}
