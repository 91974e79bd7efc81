package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/clusterbench"
)

// runSkiffBench runs `skiff bench` against s with args and returns its
// stdout and stderr.
func runSkiffBench(t *testing.T, s *server, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, skiffBin, append([]string{"bench", "--kubeconfig", s.kubeconfig()}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// TestSkiffBenchRealPods runs `skiff bench` on the node server: the API
// calls, then real pods of the pause image through containerd and runc,
// as JSON; its namespace is gone when it returns.
func TestSkiffBenchRealPods(t *testing.T) {
	s := nodeServer(t)
	stdout, stderr, err := runSkiffBench(t, s, "--ops", "20", "--concurrency", "4", "--pods", "3", "--pod-rate", "5", "-o", "json")
	if err != nil {
		t.Fatalf("skiff bench: %v\nstderr:\n%s\nstdout:\n%s", err, stderr, stdout)
	}
	var res clusterbench.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("output is not the JSON result: %v\n%s", err, stdout)
	}
	t.Logf("skiff bench on the node server:\n%s", stdout)
	if res.Nodes != 1 || len(res.API) != 13 {
		t.Errorf("%d nodes, %d API rows; want 1 and 13 (6 verbs × 2 concurrencies + the cluster list)", res.Nodes, len(res.API))
	}
	for _, a := range res.API {
		if a.Errors != 0 || a.N == 0 || a.P50 <= 0 {
			t.Errorf("%s %s x%d: %+v", a.Verb, a.Resource, a.Concurrency, a)
		}
	}
	if p := res.Pods; p == nil || p.Startup.N != 3 || p.WarmedNodes != 1 || p.Startup.P50 <= 0 {
		t.Errorf("pod startup: %+v", res.Pods)
	}
	if len(res.SLOs) != 5 || !res.Deleted {
		t.Errorf("SLOs %+v, namespace deleted %v", res.SLOs, res.Deleted)
	}
	if _, err := nodeClient.CoreV1().Namespaces().Get(context.Background(), res.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after the run: %v, want NotFound", res.Namespace, err)
	}
}

// TestSkiffBenchWithoutNodes: on a cluster with no node, `skiff bench`
// fails and says how to measure the API only, which then works.
func TestSkiffBenchWithoutNodes(t *testing.T) {
	useShared(t)
	s := sharedServer(t)
	_, stderr, err := runSkiffBench(t, s, "--ops", "5", "--pods", "1")
	if err == nil || !strings.Contains(stderr, "--pods 0") {
		t.Fatalf("with pods and no node: %v, stderr %q; want a failure naming --pods 0", err, stderr)
	}
	stdout, stderr, err := runSkiffBench(t, s, "--ops", "5", "--pods", "0")
	if err != nil {
		t.Fatalf("--pods 0: %v\n%s", err, stderr)
	}
	wantContains(t, "skiff bench --pods 0", stdout, "API CALL", "create configmaps", "list pods", "Kubernetes SLOs", "mutating API calls")
	_, stderr, err = runSkiffBench(t, s, "--ops", "-1")
	if err == nil || !strings.Contains(stderr, "--ops must be at least 1") {
		t.Errorf("--ops -1: %v, stderr %q", err, stderr)
	}
}
