package images

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMulticallNames(t *testing.T) {
	for argv0, want := range map[string]bool{
		"pause": true, "/pause": true, "/agnhost": true, "agnhost": true, "/usr/bin/testserver": true,
		"skiff": false, "/usr/local/bin/skiff": false, "": false, "pause2": false,
	} {
		if _, ok := Multicall(argv0); ok != want {
			t.Errorf("Multicall(%q) ok = %v, want %v", argv0, ok, want)
		}
	}
}

// TestTestServerImageRuns builds the test server image around a static
// stand-in for skiff, unpacks it and runs its programs in a chroot: the
// shell, /agnhost netexec over real sockets, and /pause.
func TestTestServerImageRuns(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	exe := multicallBinary(t)
	bs, err := BuildBuiltins(Sources{Executable: exe, Busybox: hostBusybox})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extractImage(t, builtinByName(t, bs, TestServerImage), root)

	if out, err := exec.Command("chroot", root, "/bin/sh", "-c", "echo ok").CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Errorf("sh in the test server image: %v: %q", err, out)
	}

	port := freePort(t)
	server := exec.Command("chroot", root, "/agnhost", "netexec", fmt.Sprintf("--http-port=%d", port), "--udp-port=-1")
	server.Stderr = os.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { server.Wait(); close(done) }()
	t.Cleanup(func() {
		server.Process.Kill()
		<-done
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if body := waitHTTP(t, base+"/echo?msg=from-the-image"); body != "from-the-image" {
		t.Errorf("/echo = %q", body)
	}
	host, _ := os.Hostname()
	if body := waitHTTP(t, base+"/hostname"); body != host {
		t.Errorf("/hostname = %q, want %q", body, host)
	}
	if out, err := exec.Command("chroot", root, "/agnhost", "connect", fmt.Sprintf("127.0.0.1:%d", port)).CombinedOutput(); err != nil {
		t.Errorf("agnhost connect: %v: %s", err, out)
	}
	waitHTTP(t, base+"/exit?code=3")
	select {
	case <-done:
		if code := server.ProcessState.ExitCode(); code != 3 {
			t.Errorf("netexec exit code = %d, want 3", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("netexec did not exit after /exit")
	}

	pause := exec.Command("chroot", root, "/pause")
	if err := pause.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let it subscribe to signals (it takes milliseconds)
	pause.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- pause.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("/pause after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		pause.Process.Kill()
		<-waited
		t.Error("/pause did not exit on SIGTERM")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHTTP GETs url until the server answers (it may still be starting).
func waitHTTP(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
