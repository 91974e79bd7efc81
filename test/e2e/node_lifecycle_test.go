package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node tests of how pods end and survive: graceful deletion, clean
// removal, and a node restart.

// TestNodePreStopHook: deleting a pod runs its preStop hook, then sends
// SIGTERM, and the pod is gone within its grace period.
func TestNodePreStopHook(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "prestop")
	// The hook and the TERM trap write into a host directory: the test
	// runs on the node.
	dir := t.TempDir()
	const grace = 10 * time.Second
	n.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  terminationGracePeriodSeconds: %d
  volumes: [{name: hook, hostPath: {path: %s, type: Directory}}]
  containers:
  - name: main
    image: %s
    command: [sh, -c, 'trap "echo term >> /hook/order; exit 0" TERM; while true; do sleep 0.2; done']
    lifecycle:
      preStop:
        exec: {command: [sh, -c, 'echo prestop >> /hook/order; sleep 1']}
    volumeMounts: [{name: hook, mountPath: /hook}]
`, int(grace.Seconds()), dir, busyboxImage))
	n.waitReady("hooked", podStartTimeout)
	start := time.Now()
	n.k("delete", "pod", "hooked", "--wait", "--timeout=60s")
	took := time.Since(start)
	t.Logf("kubectl delete --wait took %v (grace period %v)", took.Round(time.Millisecond), grace)
	got, err := os.ReadFile(filepath.Join(dir, "order"))
	if err != nil || string(got) != "prestop\nterm\n" {
		t.Errorf("the hooks wrote %q (%v), want %q: preStop first, then SIGTERM", got, err, "prestop\nterm\n")
	}
	if took >= grace {
		t.Errorf("deleting the pod took %v, want it gone within its grace period of %v", took, grace)
	}
	wantGoneIn(n, "pod", "hooked")
}

// wantGoneIn fails the test unless the object is NotFound.
func wantGoneIn(n *nodeTest, kind, name string) {
	n.t.Helper()
	stdout, stderr, err := n.kubectl("get", kind, name)
	if err == nil || !strings.Contains(stderr, "(NotFound)") {
		n.t.Errorf("get %s %s: want NotFound, got err=%v stdout=%q stderr=%q", kind, name, err, stdout, stderr)
	}
}

// TestNodeDeleteLeavesNothing: deleting a Deployment removes every trace
// of its pods from the node: sandboxes and containers in the runtime,
// mounts, veth interfaces, pod cgroups and the kubelet's pod directories.
func TestNodeDeleteLeavesNothing(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "leftovers")
	n.k("create", "deployment", "web", "--image="+testServerImage, "--replicas=3", "--", "/agnhost", "netexec", "--http-port=8080")
	n.k("rollout", "status", "deployment/web", "--timeout=90s")
	traces := n.podTraces()
	if len(traces.sandboxes) != 3 || len(traces.podUIDs) != 3 {
		t.Fatalf("before delete: %d sandboxes for %d pods in the runtime, want 3 each", len(traces.sandboxes), len(traces.podUIDs))
	}
	// The checks must see what they look for while the pods run, or their
	// silence after the delete would prove nothing.
	if left := traces.remaining(); len(left.mounts) == 0 || len(left.veths) != 3 || len(left.cgroups) == 0 || len(left.podDirs) != 3 {
		t.Fatalf("before delete the checks find too little: %d mounts, %d veths (want 3), %d cgroup dirs, %d pod dirs (want 3)",
			len(left.mounts), len(left.veths), len(left.cgroups), len(left.podDirs))
	}

	n.k("delete", "deployment", "web", "--cascade=foreground", "--wait", "--timeout=90s")
	start := time.Now()
	var left leftovers
	for {
		left = traces.remaining()
		left.sandboxes, left.containers = n.runtimeObjects()
		if left.empty() {
			t.Logf("nothing left %v after kubectl delete returned", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 45*time.Second {
			t.Fatalf("45s after the Deployment was deleted, the node still has:\n%s", left)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out := n.k("get", "pods,replicasets", "-o", "name"); out != "" {
		t.Errorf("objects left in the namespace:\n%s", out)
	}
}

// TestNodeRestart: SIGKILLing the node server (API server, kubelet and
// all) leaves the containers running in their shims; started again on the
// same data, it adopts them: same container IDs, no restarts. It kills
// the shared node server, so it does not run in parallel: Go runs it
// before every parallel test.
func TestNodeRestart(t *testing.T) {
	n := newNodeTest(t, "restart")
	n.k("create", "deployment", "web", "--image="+testServerImage, "--replicas=2", "--", "/agnhost", "netexec", "--http-port=8080")
	n.k("run", "bb", "--image="+busyboxImage, "--", "sleep", "3600")
	n.k("rollout", "status", "deployment/web", "--timeout=90s")
	n.waitReady("bb", podStartTimeout)
	before := n.podSnapshot()
	sandboxes, containers := n.runtimeObjects()
	if len(before) != 3 || len(sandboxes) != 3 || len(containers) != 3 {
		t.Fatalf("before the kill: %d pods, %d sandboxes, %d containers; want 3 of each", len(before), len(sandboxes), len(containers))
	}

	// The pods answer on the pod network from the host: the baseline for
	// the check while the server is down.
	for name, p := range before {
		if strings.HasPrefix(name, "web-") {
			waitHTTP(t, fmt.Sprintf("http://%s:8080/hostname", p.ip), name, 20*time.Second)
		}
	}

	s := n.s
	pid := s.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL the node server's process group: %v", err)
	}
	<-s.done
	killed := time.Now()
	// With the server dead the containers still run in their shims.
	for name, p := range before {
		if strings.HasPrefix(name, "web-") {
			if got := httpGet(t, fmt.Sprintf("http://%s:8080/hostname", p.ip)); got != name {
				t.Errorf("with the server down, pod %s at %s answered /hostname with %q", name, p.ip, got)
			}
		}
	}
	if err := s.start(); err != nil {
		t.Fatalf("starting the node server again after SIGKILL: %v", err)
	}
	// The Node object still says Ready from before the kill: wait for the
	// new kubelet's first lease renewal, then for its server.
	n.waitLeaseRenewedAfter(killed, 60*time.Second)
	t.Logf("the restarted kubelet renewed its lease %v after the kill", time.Since(killed).Round(time.Millisecond))
	n.waitExec("bb", 30*time.Second)
	if got := containerdProcesses(s); len(got) != 1 {
		t.Errorf("%d containerd processes serve the node's data dir after the restart, want 1: %v", len(got), got)
	}

	// Give the restarted kubelet a few sync rounds to act on what it found
	// before judging: a kubelet that restarted the containers would have
	// new container IDs by then.
	time.Sleep(5 * time.Second)
	after := n.podSnapshot()
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			t.Errorf("pod %s is gone after the restart", name)
		case a != b:
			t.Errorf("pod %s changed across the restart:\n before %+v\n after  %+v", name, b, a)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d pods after the restart, want %d: %v", len(after), len(before), after)
	}
	sandboxesAfter, containersAfter := n.runtimeObjects()
	if !sameSet(sandboxes, sandboxesAfter) || !sameSet(containers, containersAfter) {
		t.Errorf("the runtime's objects changed across the restart:\n sandboxes %v -> %v\n containers %v -> %v",
			sandboxes, sandboxesAfter, containers, containersAfter)
	}
	if running := n.runningContainers(); !sameSet(containers, running) {
		t.Errorf("containers running after the restart: %v, want all of %v", running, containers)
	}

	// The kubelet server serves the adopted containers, and the kubelet
	// starts new ones.
	if got := n.k("exec", "bb", "--", "echo", "still here"); got != "still here\n" {
		t.Errorf("exec after the restart = %q", got)
	}
	for name := range before {
		if strings.HasPrefix(name, "web-") {
			port := n.portForward("pod/"+name, 8080)
			if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); got != name {
				t.Errorf("port-forward to %s after the restart: /hostname = %q", name, got)
			}
			break
		}
	}
	// A pod bound to the node directly: the restarted scheduler and
	// controller manager wait out their predecessors' leader leases
	// (15s), the kubelet must not.
	n.k("run", "fresh", "--image="+busyboxImage, `--overrides={"spec":{"nodeName":"`+nodeName+`"}}`, "--", "sleep", "3600")
	n.waitReady("fresh", podStartTimeout)
}

// podState is what must not change about a pod when its node restarts.
type podState struct {
	uid, ip, containerID string
	restarts             int32
	startedAt            string
}

// podSnapshot reads every pod of the namespace.
func (n *nodeTest) podSnapshot() map[string]podState {
	n.t.Helper()
	list, err := n.client.CoreV1().Pods(n.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		n.t.Fatal(err)
	}
	out := map[string]podState{}
	for _, p := range list.Items {
		st := podState{uid: string(p.UID), ip: p.Status.PodIP}
		if len(p.Status.ContainerStatuses) == 1 {
			c := p.Status.ContainerStatuses[0]
			st.containerID, st.restarts = c.ContainerID, c.RestartCount
			if c.State.Running != nil {
				st.startedAt = c.State.Running.StartedAt.UTC().Format(time.RFC3339)
			}
		}
		out[p.Name] = st
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, x := range a {
		in[x] = true
	}
	for _, x := range b {
		if !in[x] {
			return false
		}
	}
	return true
}

// containerdProcesses lists the containerd processes (not shims) running
// with the node server's config.
func containerdProcesses(s *server) []string {
	out, _ := exec.Command("pgrep", "-f", "^containerd --config "+regexp.QuoteMeta(s.agentDir())).Output()
	return strings.Fields(string(out))
}
