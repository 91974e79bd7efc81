package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRolloutCommands: set image, rollout restart, pause and resume send
// strategic merge patches to the deployment; each spec change bumps
// generation. (No deployment controller runs yet, so rollout status and
// history are not exercised.)
func TestRolloutCommands(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "rollout")
	mustKubectl(t, "create", "deployment", "web", "--image=nginx:1.26", "-n", ns)

	steps := []struct {
		args []string
		want string
		expr string // jsonpath checked after the step
		val  string
	}{
		{[]string{"set", "image", "deploy/web", "nginx=nginx:1.27"}, "deployment.apps/web image updated",
			"{.spec.template.spec.containers[0].image}", "nginx:1.27"},
		{[]string{"rollout", "pause", "deploy/web"}, "deployment.apps/web paused", "{.spec.paused}", "true"},
		{[]string{"rollout", "resume", "deploy/web"}, "deployment.apps/web resumed", "{.spec.paused}", ""},
		{[]string{"set", "env", "deploy/web", "MODE=e2e"}, "deployment.apps/web env updated",
			"{.spec.template.spec.containers[0].env[0].name}={.spec.template.spec.containers[0].env[0].value}", "MODE=e2e"},
	}
	for i, s := range steps {
		out := mustKubectl(t, append(s.args, "-n", ns)...)
		if strings.TrimSpace(out) != s.want {
			t.Errorf("kubectl %s printed %q, want %q", strings.Join(s.args, " "), out, s.want)
		}
		if got := jsonpath(t, s.expr, "deploy", "web", "-n", ns); got != s.val {
			t.Errorf("after %s: %s = %q, want %q", strings.Join(s.args, " "), s.expr, got, s.val)
		}
		if got, want := jsonpath(t, "{.metadata.generation}", "deploy", "web", "-n", ns), strconv.Itoa(i+2); got != want {
			t.Errorf("after %s: generation = %s, want %s", strings.Join(s.args, " "), got, want)
		}
	}

	if out := mustKubectl(t, "rollout", "restart", "deploy/web", "-n", ns); strings.TrimSpace(out) != "deployment.apps/web restarted" {
		t.Errorf("rollout restart printed %q", out)
	}
	restartedAt := jsonpath(t, `{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}`, "deploy", "web", "-n", ns)
	if _, err := time.Parse(time.RFC3339, restartedAt); err != nil {
		t.Errorf("restartedAt annotation = %q: %v", restartedAt, err)
	}
	// Paused deployments cannot be restarted.
	mustKubectl(t, "rollout", "pause", "deploy/web", "-n", ns)
	stdout, stderr, err := kubectl(t, "rollout", "restart", "deploy/web", "-n", ns)
	wantContains(t, "restart of a paused deployment", wantFail(t, "restart paused", stdout, stderr, err), "can't restart paused deployment")
}

// TestPodStatus: status is written through pods/status only; the table's
// READY, STATUS, RESTARTS and IP columns are computed from it.
func TestPodStatus(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "pod-status")
	mustKubectl(t, "run", "p", "--image=busybox:1.36", "-n", ns)

	// The main resource ignores status.
	out := mustKubectl(t, "patch", "pod", "p", "-n", ns, "--type=merge", "-p", `{"status":{"phase":"Failed"}}`)
	if strings.TrimSpace(out) != "pod/p patched (no change)" {
		t.Errorf("status patch through the main resource printed %q", out)
	}
	if got := jsonpath(t, "{.status.phase}", "pod", "p", "-n", ns); got != "Pending" {
		t.Errorf("phase = %q after a main-resource status patch, want Pending", got)
	}

	mustKubectl(t, "patch", "pod", "p", "-n", ns, "--subresource=status", "--type=merge", "-p",
		`{"status":{"phase":"Running","podIP":"10.42.0.7","containerStatuses":[{"name":"p","image":"busybox:1.36","imageID":"","ready":true,"restartCount":2,"started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}}`)
	tb := parseTable(t, mustKubectl(t, "get", "pod", "p", "-n", ns, "-o", "wide"))
	wantRow(t, tb, "p", map[string]string{"READY": "1/1", "STATUS": "Running", "RESTARTS": "2", "IP": "10.42.0.7"})

	// The status subresource ignores spec.
	mustKubectl(t, "patch", "pod", "p", "-n", ns, "--subresource=status", "--type=merge", "-p",
		`{"spec":{"activeDeadlineSeconds":5},"status":{"containerStatuses":[{"name":"p","image":"busybox:1.36","imageID":"","ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}`)
	if got := jsonpath(t, "{.spec.activeDeadlineSeconds}", "pod", "p", "-n", ns); got != "" {
		t.Errorf("spec.activeDeadlineSeconds = %q after a status patch, want unset", got)
	}
	tb = parseTable(t, mustKubectl(t, "get", "pod", "p", "-n", ns))
	wantRow(t, tb, "p", map[string]string{"READY": "0/1", "STATUS": "CrashLoopBackOff", "RESTARTS": "3"})
}
