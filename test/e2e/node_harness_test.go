package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/containerd"
)

// The node tier: tests that run real containers on the one node of the
// "node server", a `skiff server` with its registry and its agent on. The
// kubelet port (10250), the cni0 bridge, the `ip skiff-network` nftables
// table and the /kubepods cgroups belong to the machine, so the package
// starts one such server, lazily, and shares it; every node test works in
// a namespace of its own. runMain stops it and runs `skiff agent
// --cleanup` on its data once the tests are done.

// nodeName is the node server's Node.
const nodeName = "e2e-node"

// nodeReadyTimeout bounds the wait for the node to turn Ready after the
// server answers /readyz (containerd, CNI config, first status).
const nodeReadyTimeout = 90 * time.Second

var (
	nodeOnce   sync.Once
	nodeSrv    *server
	nodeErr    error
	nodeDir    string // the node server's temp dir, removed by stopNodeServer
	nodeClient kubernetes.Interface
)

// nodeSkipReason says why this machine cannot run containers, or "".
func nodeSkipReason() string {
	if os.Geteuid() != 0 {
		return "e2e node tests need root (containerd, CNI, cgroups); run them as root"
	}
	for _, bin := range []string{containerd.DefaultBinary, "runc", "nft", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("e2e node tests need %s on PATH (Debian: containerd, runc, nftables, iproute2; see hack/install-deps.sh)", bin)
		}
	}
	if _, err := os.Stat(filepath.Join(containerd.DefaultCNIBinDir, "bridge")); err != nil {
		return "e2e node tests need the CNI plugins in " + containerd.DefaultCNIBinDir + " (Debian: containernetworking-plugins)"
	}
	return ""
}

// nodeServer returns the shared node server, starting it on first use and
// waiting for its node to be Ready. It skips t when the machine cannot
// run containers and fails it when the server did not start. If t fails,
// the server's log lines written meanwhile are printed.
func nodeServer(t *testing.T) *server {
	t.Helper()
	requireKubectl(t)
	if reason := nodeSkipReason(); reason != "" {
		t.Skip(reason)
	}
	nodeOnce.Do(startNodeServer)
	if nodeErr != nil {
		t.Fatalf("the node server did not start: %v", nodeErr)
	}
	s := nodeSrv
	if !s.running() {
		t.Fatalf("the node server has exited (%v); log tail:\n%s", s.waitErr, s.logTail(60))
	}
	offset := s.logSize()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node server log during %s:\n%s", t.Name(), s.logSince(offset, 80))
		}
	})
	return s
}

func startNodeServer() {
	dir, err := os.MkdirTemp("", "skiff-e2e-node-")
	if err != nil {
		nodeErr = err
		return
	}
	nodeDir = dir
	ports, err := freePorts(1)
	if err != nil {
		nodeErr = err
		return
	}
	began := time.Now()
	s, err := startNewServer(skiffBin, dir,
		"--disable-registry=false", "--disable-agent=false",
		"--registry-port="+strconv.Itoa(ports[0]), "--node-name="+nodeName,
		// The kubelet's own account of what it did is the evidence when a
		// node test fails.
		"--log-level=info")
	if err != nil {
		nodeErr = err
		return
	}
	nodeSrv = s
	if nodeClient, nodeErr = newClient(s); nodeErr != nil {
		return
	}
	if nodeErr = waitNodeReady(s, nodeReadyTimeout); nodeErr != nil {
		return
	}
	fmt.Fprintf(os.Stderr, "e2e: node server %s ready, node %s Ready after %v\n", s.URL(), nodeName, time.Since(began).Round(time.Millisecond))
}

// waitNodeReady waits for the node's Ready condition to be True.
func waitNodeReady(s *server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	last := "not registered"
	for {
		n, err := nodeClient.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err == nil {
			last = "no Ready condition"
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					if c.Status == corev1.ConditionTrue {
						return nil
					}
					last = fmt.Sprintf("Ready=%s (%s: %s)", c.Status, c.Reason, c.Message)
				}
			}
		} else if !apierrors.IsNotFound(err) {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready after %v (last: %s); log tail:\n%s", nodeName, timeout, last, s.logTail(60))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// stopNodeServer stops the node server, if one was started, and removes
// everything its node left on the machine: pods, mounts, cgroups, the
// bridge, the nftables table and its data. It returns the exit code the
// package should have at least: 1 if any of that failed.
func stopNodeServer() int {
	if nodeDir == "" {
		return 0
	}
	var errs []error
	if nodeSrv != nil && nodeSrv.running() {
		if err := nodeSrv.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping the node server: %w\nlog tail:\n%s", err, nodeSrv.logTail(40)))
		}
	}
	if nodeSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, skiffBin, "agent", "--cleanup",
			"--data-dir", nodeSrv.agentDir()).CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Errorf("skiff agent --cleanup: %w\n%s", err, out))
		} else if left := hostNetworkLeftovers(); len(left) > 0 {
			errs = append(errs, fmt.Errorf("skiff agent --cleanup left behind: %s", strings.Join(left, "; ")))
		}
	}
	if err := os.RemoveAll(nodeDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: node server: %v\n", err)
		return 1
	}
	return 0
}

// hostNetworkLeftovers lists what of a node's networking remains on the
// host: its nftables tables, the pod bridge, host-gw routes.
func hostNetworkLeftovers() []string {
	var left []string
	for _, table := range []string{"skiff-network", "skiff-proxy"} {
		if exec.Command("nft", "list", "table", "ip", table).Run() == nil {
			left = append(left, "nftables table ip "+table)
		}
	}
	if _, err := os.Stat("/sys/class/net/cni0"); err == nil {
		left = append(left, "bridge cni0")
	}
	if out, err := exec.Command("ip", "route", "show", "proto", "90").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		left = append(left, "routes "+strings.TrimSpace(string(out)))
	}
	return left
}

// newClient is a client-go clientset for s's admin.
func newClient(s *server) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// nodeTest is one node test's view: the node server, a client and the
// test's own namespace.
type nodeTest struct {
	t      *testing.T
	s      *server
	client kubernetes.Interface
	ns     string
}

// newNodeTest gets the node server and creates namespace e2e-node-<name>.
// When the test ends the namespace is deleted and waited for, so its pods
// are gone from the node before the next run; if the test failed, its
// pods are described first.
func newNodeTest(t *testing.T, name string) *nodeTest {
	t.Helper()
	s := nodeServer(t)
	n := &nodeTest{t: t, s: s, client: nodeClient, ns: "e2e-node-" + name}
	n.k("create", "namespace", n.ns)
	n.waitServiceAccount()
	t.Cleanup(func() {
		if t.Failed() {
			out, errOut, _ := s.kubectl(t, "describe", "pods", "-n", n.ns)
			t.Logf("pods in %s at the end:\n%s%s", n.ns, out, errOut)
		}
		// Pods here exist for the test only: a short grace period keeps
		// the teardown quick (busybox's sh ignores SIGTERM as PID 1), and
		// workloads go first so that nothing recreates the pods.
		if _, errOut, err := s.kubectl(t, "delete", "all", "--all", "-n", n.ns, "--grace-period=1", "--wait=false"); err != nil {
			t.Logf("deleting the objects of %s: %v: %s", n.ns, err, errOut)
		}
		if _, errOut, err := s.kubectlWith(t, runOpts{timeout: 2 * time.Minute}, "delete", "namespace", n.ns, "--timeout=100s"); err != nil {
			t.Errorf("deleting namespace %s: %v: %s", n.ns, err, errOut)
		}
	})
	return n
}

// sub is n for a subtest: same server and namespace, t's failures.
func (n *nodeTest) sub(t *testing.T) *nodeTest {
	c := *n
	c.t = t
	return &c
}

// waitServiceAccount waits for the namespace's default ServiceAccount,
// which pods name implicitly.
func (n *nodeTest) waitServiceAccount() {
	n.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := n.client.CoreV1().ServiceAccounts(n.ns).Get(context.Background(), "default", metav1.GetOptions{})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("no default ServiceAccount in %s after 30s: %v", n.ns, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// k runs kubectl in the test's namespace and fails the test unless it
// succeeds; it returns stdout.
func (n *nodeTest) k(args ...string) string {
	n.t.Helper()
	return n.s.mustKubectl(n.t, n.inNamespace(args)...)
}

// inNamespace puts -n <namespace> first, where it cannot end up in a
// container's command line after "--".
func (n *nodeTest) inNamespace(args []string) []string {
	return append([]string{"-n", n.ns}, args...)
}

// kubectl runs kubectl in the test's namespace.
func (n *nodeTest) kubectl(args ...string) (stdout, stderr string, err error) {
	n.t.Helper()
	return n.s.kubectl(n.t, n.inNamespace(args)...)
}

// kubectlStdin runs kubectl in the test's namespace with stdin.
func (n *nodeTest) kubectlStdin(stdin string, args ...string) (stdout, stderr string, err error) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	cmd := n.s.kubectlCmd(ctx, runOpts{}, n.inNamespace(args)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	n.t.Logf("kubectl %s < %q (%v, err=%v)", strings.Join(args, " "), stdin, time.Since(start).Round(time.Millisecond), err)
	return out.String(), errOut.String(), err
}

// apply creates the objects of a YAML manifest in the test's namespace.
func (n *nodeTest) apply(manifest string) {
	n.t.Helper()
	n.k("apply", "-f", writeFile(n.t, "manifest.yaml", manifest))
}

// background starts kubectl in the test's namespace; it is killed when
// it outlives timeout or the test.
func (n *nodeTest) background(timeout time.Duration, args ...string) *background {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	args = n.inNamespace(args)
	b := &background{cmd: n.s.kubectlCmd(ctx, runOpts{}, args...), cancel: cancel, done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = lockedWriter{&b.mu, &b.out}, lockedWriter{&b.mu, &b.errOut}
	if err := b.cmd.Start(); err != nil {
		cancel()
		n.t.Fatalf("starting kubectl %s: %v", strings.Join(args, " "), err)
	}
	n.t.Logf("kubectl %s (started in background)", strings.Join(args, " "))
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	n.t.Cleanup(func() { b.cancel(); <-b.done })
	return b
}
