package critest

import (
	"os"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func testExecSync(h *harness) {
	p := h.runSandbox("exec", nil)
	id := h.startContainer(p, "target", "sleep", "3600")
	h.waitState(id, runtimeapi.ContainerState_CONTAINER_RUNNING)

	start := time.Now()
	stdout, stderr, err := h.rt.ExecSync(h.ctx, id, []string{"sh", "-c", "echo hello"}, 10*time.Second)
	if err != nil {
		h.t.Fatalf("ExecSync echo: %v", err)
	}
	h.t.Logf("ExecSync: %v", time.Since(start).Round(time.Millisecond))
	if string(stdout) != "hello\n" || len(stderr) != 0 {
		h.t.Errorf("ExecSync echo: stdout %q stderr %q, want \"hello\\n\" and nothing", stdout, stderr)
	}

	_, _, err = h.rt.ExecSync(h.ctx, id, []string{"sh", "-c", "exit 7"}, 10*time.Second)
	if code, ok := exitCode(err); !ok || code != 7 {
		h.t.Errorf("ExecSync exit 7: error %v (code %d, %v); want an error carrying exit status 7", err, code, ok)
	}

	if h.opts.RealProcesses {
		stdout, stderr, err := h.rt.ExecSync(h.ctx, id, []string{"sh", "-c", "echo out; echo err >&2; exit 2"}, 10*time.Second)
		if code, _ := exitCode(err); code != 2 || string(stdout) != "out\n" || string(stderr) != "err\n" {
			h.t.Errorf("ExecSync with stderr: %q %q %v; want out, err, exit 2", stdout, stderr, err)
		}
		h.checkHostname(id, p)
	}

	if err := h.rt.StopContainer(h.ctx, id, 0); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	if _, _, err := h.rt.ExecSync(h.ctx, id, []string{"sh", "-c", "echo hello"}, 10*time.Second); err == nil {
		h.t.Errorf("ExecSync in an exited container succeeded; want an error")
	}
}

// checkHostname checks the container sees the sandbox's hostname, or the
// node's with the node's network (and so UTS) namespace.
func (h *harness) checkHostname(id string, p *pod) {
	h.t.Helper()
	want := p.config.Hostname
	if h.opts.HostNetwork {
		var err error
		if want, err = os.Hostname(); err != nil {
			h.t.Fatal(err)
		}
	}
	stdout, _, err := h.rt.ExecSync(h.ctx, id, []string{"hostname"}, 10*time.Second)
	if err != nil || strings.TrimSpace(string(stdout)) != want {
		h.t.Errorf("hostname in the container = %q, %v; want %q", stdout, err, want)
	}
}
