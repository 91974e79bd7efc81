package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Tests of the node (TestNode*): real containers on the node server's one
// node, driven by the real kubectl. This file has kubectl's pod commands,
// restarts and probes; node_podspec_test.go configuration and limits;
// node_lifecycle_test.go deletion and a node restart. The harness is in
// node_harness_test.go (the server, a namespace per test), node_pods_test.go
// (waiting on pods), node_runtime_test.go (the CRI and the machine) and
// node_terminal_test.go (a pseudo-terminal). Each test works in a
// namespace of its own and runs in parallel with the others, except
// TestNodeRestart, which kills the node server and so runs alone, before
// the parallel ones.

// Images the node's registry serves.
const (
	busyboxImage    = "busybox:1.36"
	testServerImage = "registry.k8s.io/e2e-test-images/agnhost:2.52"
)

// podStartTimeout bounds how long a pod may take to be Running or Ready
// on the (shared, busy) node.
const podStartTimeout = 60 * time.Second

// TestNodeKubectlPodCommands: kubectl run, logs (-f to the container's
// exit, --previous), exec (stdin, exit codes, a terminal), port-forward
// and cp against real containers.
func TestNodeKubectlPodCommands(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "kubectl")
	n.k("run", "bb", "--image="+busyboxImage, "--", "sh", "-c", "echo hello from bb; exec sleep 3600")
	n.k("run", "web", "--image="+testServerImage, "--port=8080", "--", "netexec", "--http-port=8080")
	// Each run counts itself in an emptyDir (which outlives restarts):
	// the first exits 1, the second stays up.
	n.apply(`apiVersion: v1
kind: Pod
metadata: {name: restarter}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + busyboxImage + `
    command: [sh, -c, 'n=$(($(cat /state/n 2>/dev/null || echo 0)+1)); echo $n > /state/n; echo "run $n"; [ $n -ge 2 ] && exec sleep 3600; exit 1']
    volumeMounts: [{name: state, mountPath: /state}]
  volumes: [{name: state, emptyDir: {}}]
`)

	t.Run("logs", func(t *testing.T) {
		t.Parallel()
		n := n.sub(t)
		n.waitReady("bb", podStartTimeout)
		if got := n.k("logs", "bb"); got != "hello from bb\n" {
			t.Errorf("kubectl logs bb = %q, want %q", got, "hello from bb\n")
		}
	})

	t.Run("logs -f ends when the container exits", func(t *testing.T) {
		t.Parallel()
		n := n.sub(t)
		// Created here, not with the others: a parallel subtest may start
		// late, and this one must catch the container running.
		n.k("run", "counter", "--image="+busyboxImage, "--restart=Never", "--",
			"sh", "-c", "echo start; sleep 3; for i in 1 2 3; do echo line $i; sleep 1; done; echo done")
		n.waitPod("counter", podStartTimeout, "running", func(p *corev1.Pod) bool {
			c := containerStatus(p, "counter")
			return c != nil && c.State.Running != nil
		})
		start := time.Now()
		b := n.background(time.Minute, "logs", "-f", "counter")
		exited, err := b.wait(30 * time.Second)
		if !exited {
			t.Fatalf("kubectl logs -f still running 30s after the 7s container should have exited; stdout so far:\n%s", b.stdout())
		}
		if err != nil {
			t.Errorf("kubectl logs -f: %v: %s", err, b.stderr())
		}
		if want := "start\nline 1\nline 2\nline 3\ndone\n"; b.stdout() != want {
			t.Errorf("kubectl logs -f printed %q, want %q", b.stdout(), want)
		}
		t.Logf("logs -f ended %v after it started", time.Since(start).Round(time.Millisecond))
		p := n.waitPod("counter", 10*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
		if c := containerStatus(p, "counter"); c == nil || c.State.Terminated == nil || c.State.Terminated.ExitCode != 0 || c.State.Terminated.Reason != "Completed" {
			t.Errorf("counter after exit: %s, want terminated Completed exit 0", describeStatus(p, nil))
		}
	})

	t.Run("logs --previous", func(t *testing.T) {
		t.Parallel()
		n := n.sub(t)
		n.waitPod("restarter", podStartTimeout, "restarted once and running", func(p *corev1.Pod) bool {
			c := containerStatus(p, "main")
			return c != nil && c.RestartCount == 1 && c.State.Running != nil
		})
		if got := n.k("logs", "restarter"); got != "run 2\n" {
			t.Errorf("kubectl logs restarter = %q, want %q", got, "run 2\n")
		}
		if got := n.k("logs", "restarter", "--previous"); got != "run 1\n" {
			t.Errorf("kubectl logs restarter --previous = %q, want %q", got, "run 1\n")
		}
	})

	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		n := n.sub(t)
		n.waitReady("bb", podStartTimeout)
		out, errOut, err := n.kubectlStdin("hello from stdin\nsecond line\n", "exec", "-i", "bb", "--", "sh", "-c", "cat | tr a-z A-Z")
		if err != nil || out != "HELLO FROM STDIN\nSECOND LINE\n" {
			t.Errorf("exec -i with stdin: out=%q err=%v stderr=%q, want the input upper-cased", out, err, errOut)
		}
		out, errOut, err = n.kubectl("exec", "bb", "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7")
		if code := exitCode(err); code != 7 {
			t.Errorf("exec exiting 7: kubectl exit code %d (err %v), want 7", code, err)
		}
		if out != "to-stdout\n" {
			t.Errorf("exec stdout = %q, want %q", out, "to-stdout\n")
		}
		wantContains(t, "exec stderr", errOut, "to-stderr\n", "command terminated with exit code 7")
		_, errOut, err = n.kubectl("exec", "bb", "--", "/no/such/binary")
		if err == nil {
			t.Errorf("exec of a missing binary succeeded")
		}
		wantContains(t, "exec of a missing binary: stderr", errOut, "/no/such/binary")
		// Without a terminal on its stdin kubectl asks for none, even with
		// -t: the command sees pipes.
		out, _, err = n.kubectl("exec", "-t", "bb", "--", "sh", "-c", "[ -t 1 ] && echo tty || echo no-tty")
		if err != nil || out != "no-tty\n" {
			t.Errorf("exec -t without a terminal: out=%q err=%v, want no-tty (kubectl drops -t without one)", out, err)
		}
	})

	t.Run("exec -it on a terminal", func(t *testing.T) {
		t.Parallel()
		n := n.sub(t)
		n.waitReady("bb", podStartTimeout)
		// The sleep lets kubectl's first resize arrive before stty asks.
		out, err := n.kubectlOnTerminal(30, 100, "exec", "-it", "bb", "--", "sh", "-c", "tty; sleep 1; stty size; exit 5")
		if code := exitCode(err); code != 5 {
			t.Errorf("exec -it exiting 5: kubectl exit code %d (err %v), want 5; terminal output:\n%q", code, err, out)
		}
		wantMatches(t, "exec -it terminal output", out, `/dev/pts/\d+\r\n`, `30 100\r\n`)
	})

	t.Run("port-forward", func(t *testing.T) {
		t.Parallel()
		n := n.sub(t)
		n.waitReady("web", podStartTimeout)
		port := n.portForward("pod/web", 8080)
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); got != "web" {
			t.Errorf("GET /hostname through port-forward = %q, want the pod name %q", got, "web")
		}
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/echo?msg=through-the-tunnel", port)); got != "through-the-tunnel" {
			t.Errorf("GET /echo through port-forward = %q, want %q", got, "through-the-tunnel")
		}
	})

	t.Run("cp", func(t *testing.T) {
		t.Parallel()
		n := n.sub(t)
		n.waitReady("bb", podStartTimeout)
		content := "first line\nsecond line with ümlauts\n" + strings.Repeat("0123456789", 1000) + "\n"
		local := writeFile(t, "in.txt", content)
		n.k("cp", local, "bb:/tmp/in.txt")
		if got := n.k("exec", "bb", "--", "cat", "/tmp/in.txt"); got != content {
			t.Errorf("file copied into the pod differs: %d bytes, want %d", len(got), len(content))
		}
		n.k("exec", "bb", "--", "sh", "-c", "echo made in the pod > /tmp/out.txt; date >> /tmp/out.txt")
		want := n.k("exec", "bb", "--", "cat", "/tmp/out.txt")
		dst := filepath.Join(t.TempDir(), "out.txt")
		n.k("cp", "bb:/tmp/out.txt", dst)
		if got, err := os.ReadFile(dst); err != nil || string(got) != want {
			t.Errorf("file copied out of the pod = %q (%v), want %q", got, err, want)
		}
	})
}

// TestNodeCrashLoopBackOff: a container that keeps exiting non-zero is
// restarted with a back-off that grows (10s, then 20s), shows
// CrashLoopBackOff, and reports its last termination.
func TestNodeCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "crashloop")
	n.apply(`apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + busyboxImage + `
    command: [sh, -c, 'echo crashing; exit 3']
`)
	// Every run is a container of its own: collect each one's start time
	// from whichever field shows it (state while it runs or after it ended,
	// lastState once the next one is waiting or running).
	runs := map[string]time.Time{}
	var starts []time.Time
	seenBackOff, sawTable := false, false
	deadline := time.Now().Add(60 * time.Second)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		p, err := n.pod("crasher")
		if err != nil {
			t.Fatal(err)
		}
		last = p
		c := containerStatus(p, "main")
		if c == nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if c.State.Running != nil && c.ContainerID != "" {
			runs[c.ContainerID] = c.State.Running.StartedAt.Time
		}
		for _, term := range []*corev1.ContainerStateTerminated{c.State.Terminated, c.LastTerminationState.Terminated} {
			if term != nil && term.ContainerID != "" {
				runs[term.ContainerID] = term.StartedAt.Time
			}
		}
		if c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff" && !sawTable {
			seenBackOff = true
			tb := parseTable(t, n.k("get", "pod", "crasher"))
			if r, ok := tb.row("crasher"); ok && r["STATUS"] == "CrashLoopBackOff" {
				sawTable = true
			}
		}
		starts = sortedTimes(runs)
		if g := gaps(starts); len(g) >= 2 && g[len(g)-1] >= 15*time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	g := gaps(starts)
	t.Logf("%d runs started at %v: gaps %v", len(starts), starts, g)
	if len(starts) < 3 {
		t.Fatalf("%d restarts seen in 60s, want at least 2; last status: %s", max(len(starts)-1, 0), describeStatus(last, nil))
	}
	for i := 1; i < len(g); i++ {
		// Start times have second precision.
		if g[i] < g[i-1]-time.Second {
			t.Errorf("back-off shrank: gap %d is %v after gap %d of %v (gaps %v)", i, g[i], i-1, g[i-1], g)
		}
	}
	if longest := g[len(g)-1]; longest < 15*time.Second {
		t.Errorf("the last gap between restarts is %v, want the back-off to have doubled past 10s (gaps %v)", longest, g)
	}
	if !seenBackOff {
		t.Errorf("the container was never waiting with reason CrashLoopBackOff; last status: %s", describeStatus(last, nil))
	} else if !sawTable {
		t.Errorf("kubectl get pod never showed STATUS CrashLoopBackOff while the API did")
	}
	c := containerStatus(last, "main")
	if term := c.LastTerminationState.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" {
		t.Errorf("lastState = %s, want terminated with exit code 3 and reason Error", stateString(c.LastTerminationState))
	}
	if got := n.k("logs", "crasher", "--previous"); got != "crashing\n" {
		t.Errorf("logs --previous = %q, want %q", got, "crashing\n")
	}
	n.waitEvents("crasher", 5*time.Second, "BackOff: Back-off restarting failed container main")
}

// sortedTimes returns the map's times in order.
func sortedTimes(m map[string]time.Time) []time.Time {
	out := make([]time.Time, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// gaps returns the differences between consecutive times.
func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

// TestNodeLivenessProbe: a container whose liveness probe fails is killed
// and restarted, with the events saying why.
func TestNodeLivenessProbe(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "liveness")
	n.apply(`apiVersion: v1
kind: Pod
metadata: {name: sickly}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: ` + testServerImage + `
    args: [liveness, --port=8080, --healthy-for=3s]
    livenessProbe:
      httpGet: {path: /healthz, port: 8080}
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 1
`)
	n.waitPod("sickly", podStartTimeout, "restarted by its liveness probe", func(p *corev1.Pod) bool {
		c := containerStatus(p, "app")
		return c != nil && c.RestartCount >= 1
	})
	// After 3s the probe gets 500s (on a slow machine the first probe may
	// instead find the server not yet listening, which fails it as well).
	n.waitEvents("sickly", 10*time.Second,
		"Unhealthy: Liveness probe failed: ",
		"Killing: Container app failed liveness probe, will be restarted")
	t.Logf("events of sickly:\n%s", n.events("sickly"))
}

// TestNodeReadinessProbe: a failing readiness probe takes the pod out of
// Ready and its Service's endpoints out of ready, without a restart; a
// passing one puts them back.
func TestNodeReadinessProbe(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "readiness")
	n.apply(`apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: ` + testServerImage + `
    args: [netexec, --http-port=8080, --udp-port=-1]
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`)
	p := n.waitReady("web", podStartTimeout)
	n.waitEndpoint("web", p.Status.PodIP, true)
	wantPodReadyColumn(n, "web", "1/1")

	n.k("exec", "web", "--", "wget", "-q", "-O-", "http://127.0.0.1:8080/health/fail")
	n.waitPod("web", 15*time.Second, "not Ready after /health/fail", func(p *corev1.Pod) bool { return !podReady(p) })
	wantPodReadyColumn(n, "web", "0/1")
	n.waitEndpoint("web", p.Status.PodIP, false)

	n.k("exec", "web", "--", "wget", "-q", "-O-", "http://127.0.0.1:8080/health/ok")
	p = n.waitReady("web", 15*time.Second)
	wantPodReadyColumn(n, "web", "1/1")
	n.waitEndpoint("web", p.Status.PodIP, true)
	if c := containerStatus(p, "app"); c.RestartCount != 0 {
		t.Errorf("readiness failures restarted the container (%d restarts)", c.RestartCount)
	}
}

// wantPodReadyColumn checks the READY column of `kubectl get pod`.
func wantPodReadyColumn(n *nodeTest, pod, want string) {
	n.t.Helper()
	tb := parseTable(n.t, n.k("get", "pod", pod))
	wantRow(n.t, tb, pod, map[string]string{"READY": want})
}

// exitCode is kubectl's exit code from err: 0 for nil, -1 if it did not
// exit.
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		return -1
	}
}
