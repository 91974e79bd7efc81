// Package critest is the behaviour suite every CRI runtime skiff's
// kubelet talks to must pass: containerd through internal/cri's client,
// and the in-memory runtime of internal/cri/fake. It pins what the kubelet
// relies on: versions, image pulls, sandbox and container lifecycles with
// their states and exit codes, exec, logs in the CRI format, stop
// timeouts, removal and list filters. It holds no implementation.
//
// Checks that need processes really running (stderr, environment
// expansion, mounts, signals, hostname) run only with
// Options.RealProcesses; the rest hold for both kinds of runtime. Commands
// stay within what the fake reads: `sh -c` scripts of echo, sleep and exit.
package critest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	criapi "k8s.io/cri-api/pkg/apis"
)

// Options describe the runtime under test.
type Options struct {
	// Image is what containers run (e.g. "busybox:1.36"); the suite pulls
	// it. With RealProcesses it must have busybox's sh, echo, sleep, cat,
	// hostname and touch.
	Image string
	// MissingImage, if set, is an image reference the runtime cannot pull
	// (e.g. "busybox:does-not-exist"); the suite then checks that pulling
	// it fails.
	MissingImage string
	// RuntimeHandler is passed to RunPodSandbox ("" for the default).
	RuntimeHandler string
	// CgroupParent, if set, is the cgroupfs parent of every sandbox the
	// suite runs (each gets <CgroupParent>/pod<uid>).
	CgroupParent string
	// HostNetwork runs sandboxes in the node's network namespace (no CNI
	// needed); otherwise each sandbox gets its own.
	HostNetwork bool
	// RealProcesses says containers really run their commands.
	RealProcesses bool
	// Timeout bounds each subtest (default 2m).
	Timeout time.Duration
}

// Run runs the suite against rt and img as subtests of t. The runtime may
// hold other sandboxes: the suite only looks at its own, which carry a
// label unique to this Run, and removes them all.
func Run(t *testing.T, rt criapi.RuntimeService, img criapi.ImageManagerService, opts Options) {
	if opts.Image == "" {
		t.Fatal("critest: Options.Image is required")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	runID := randomID(6)
	tests := []struct {
		name string
		run  func(h *harness)
	}{
		{"Version", testVersion},
		{"Status", testStatus},
		{"PullImage", testPullImage},
		{"SandboxLifecycle", testSandboxLifecycle},
		{"ContainerLifecycle", testContainerLifecycle},
		{"ContainerRunsToExit", testContainerRunsToExit},
		{"ContainerConfig", testContainerConfig},
		{"ExecSync", testExecSync},
		{"StopTimeout", testStopTimeout},
		{"ListFilters", testListFilters},
		{"RemoveContainer", testRemoveContainer},
		{"SandboxStopKillsContainers", testSandboxStopKillsContainers},
	}
	pulled := false
	for _, tc := range tests {
		ok := t.Run(tc.name, func(t *testing.T) {
			if tc.name != "Version" && tc.name != "Status" && tc.name != "PullImage" && !pulled {
				t.Skip("image was not pulled")
			}
			ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
			defer cancel()
			tc.run(&harness{t: t, ctx: ctx, rt: rt, img: img, opts: opts, runID: runID})
		})
		if tc.name == "PullImage" {
			pulled = ok
		}
	}
	t.Run("NothingLeft", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		defer cancel()
		h := &harness{t: t, ctx: ctx, rt: rt, img: img, opts: opts, runID: runID}
		if sbs := h.ownSandboxes(); len(sbs) != 0 {
			t.Fatalf("%d sandboxes of this run remain after every subtest removed its own", len(sbs))
		}
	})
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
