package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

// fakeNodes registers heart-beating nodes on s and runs a fake kubelet
// that reports the pods the scheduler binds to them as Running and Ready,
// so the controllers, the scheduler and kubectl's workload commands run
// end to end against the real binary without containers.
func fakeNodes(t *testing.T, s *server, names ...string) (kubernetes.Interface, *controllertest.Nodes) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes := controllertest.StartNodes(t, client, controllertest.NodeOptions{}, names...)
	controllertest.StartNodeKubelet(t, client, "", nodes)
	return client, nodes
}

// TestWorkloadCommands drives a Deployment through kubectl's workload
// commands: create, scale, set image, rollout status|history|undo|pause|
// resume|restart, get -o wide, describe pod, cordon and drain.
func TestWorkloadCommands(t *testing.T) {
	t.Parallel()
	s := startTestServer(t)
	client, _ := fakeNodes(t, s, "node-a", "node-b", "node-c")
	k := func(args ...string) string { t.Helper(); return s.mustKubectl(t, args...) }
	rolledOut := func(what string) {
		t.Helper()
		out := k("rollout", "status", "deploy/web", "--timeout=60s")
		wantContains(t, "rollout status after "+what, out, `deployment "web" successfully rolled out`)
	}

	k("create", "deployment", "web", "--image=busybox:1.36", "--replicas=3", "--", "sleep", "3600")
	rolledOut("create")
	k("scale", "deploy/web", "--replicas=6")
	rolledOut("scale up")
	tb := parseTable(t, k("get", "pods", "-o", "wide"))
	if len(tb.rows) != 6 {
		t.Fatalf("get pods -o wide: %d rows, want 6:\n%v", len(tb.rows), tb.rows)
	}
	perNode := map[string]int{}
	for _, r := range tb.rowsWhere(map[string]string{"STATUS": "Running", "READY": "1/1"}) {
		perNode[r["NODE"]]++
	}
	// Six replicas of one owner over three equal nodes: the scheduler
	// spreads them.
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		if perNode[n] != 2 {
			t.Errorf("pods per node = %v, want 2 on each of node-a, node-b, node-c", perNode)
			break
		}
	}
	k("scale", "deploy/web", "--replicas=3")
	rolledOut("scale down")

	// A new template makes revision 2; undo brings revision 1's ReplicaSet
	// back as revision 3.
	firstRS := strings.TrimSpace(k("get", "rs", "-o", "name"))
	k("set", "image", "deploy/web", "busybox=busybox:1.37")
	rolledOut("set image")
	hist := k("rollout", "history", "deploy/web")
	wantMatches(t, "rollout history", hist, `(?m)^1\s+<none>$`, `(?m)^2\s+<none>$`)
	k("rollout", "undo", "deploy/web")
	rolledOut("undo")
	if img := k("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "busybox:1.36" {
		t.Errorf("image after undo = %q, want busybox:1.36", img)
	}
	wantMatches(t, "history after undo", k("rollout", "history", "deploy/web"), `(?m)^2\s+<none>$`, `(?m)^3\s+<none>$`)
	rev := strings.TrimSpace(k("get", firstRS, "-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}`))
	if rev != "3" {
		t.Errorf("%s revision after undo = %q, want 3 (the old ReplicaSet re-adopted)", firstRS, rev)
	}

	// Paused: template changes wait; resume rolls them out.
	k("rollout", "pause", "deploy/web")
	k("set", "image", "deploy/web", "busybox=busybox:1.38")
	time.Sleep(time.Second)
	if n := len(strings.Fields(k("get", "rs", "-o", "name"))); n != 2 {
		t.Errorf("%d ReplicaSets while paused, want still 2", n)
	}
	k("rollout", "resume", "deploy/web")
	rolledOut("resume")
	k("rollout", "restart", "deploy/web")
	rolledOut("restart")
	tb = parseTable(t, k("get", "rs", "-o", "wide"))
	wantHeader(t, tb, "NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR")
	live := tb.rowsWhere(map[string]string{"DESIRED": "3", "READY": "3"})
	if len(live) != 1 {
		t.Fatalf("ReplicaSets with 3/3 ready = %d, want exactly 1:\n%v", len(live), tb.rows)
	}

	// describe pod shows the scheduler's event. The pod is the live
	// ReplicaSet's: the rollout is complete once the old ReplicaSets' pods
	// are terminating, and one of those may be gone by the time describe
	// reads it.
	pod := strings.TrimPrefix(strings.Fields(k("get", "pods", "-l", live[0]["SELECTOR"], "-o", "name"))[0], "pod/")
	desc := k("describe", "pod", pod)
	wantMatches(t, "describe pod", desc,
		`(?m)^Node:\s+node-[abc]/`,
		`Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default/`+regexp.QuoteMeta(pod)+` to node-[abc]`)

	// cordon marks the node unschedulable; drain evicts its pods, which
	// come back on the other nodes.
	wantContains(t, "cordon", k("cordon", "node-a"), "node/node-a cordoned")
	if got := k("get", "node", "node-a", "-o", "jsonpath={.spec.unschedulable}"); got != "true" {
		t.Errorf("node-a unschedulable = %q after cordon", got)
	}
	out := k("drain", "node-a", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s")
	wantContains(t, "drain", out, "node/node-a drained")
	rolledOut("drain")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			t.Errorf("pod %s still on drained node-a", p.Name)
		}
	}
	tb = parseTable(t, k("get", "nodes"))
	wantRow(t, tb, "node-a", map[string]string{"STATUS": "Ready,SchedulingDisabled"})
	wantContains(t, "uncordon", k("uncordon", "node-a"), "node/node-a uncordoned")

	// The controllers' queues are on the server's /metrics.
	raw, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	wantMatches(t, "/metrics", string(raw),
		`(?m)^workqueue_depth\{name="deployment"\} \d+$`,
		`(?m)^workqueue_adds_total\{name="replicaset"\} [1-9]`,
		`(?m)^workqueue_work_duration_seconds_count\{name="deployment"\} [1-9]`,
		`(?m)^apiserver_request_total\{`)
}
