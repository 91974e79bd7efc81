package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDelete: plain deletes of a configmap and of unbound pods.
func TestDelete(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "delete")
	mustKubectl(t, "create", "configmap", "x", "--from-literal=a=b", "-n", ns)
	if out := mustKubectl(t, "delete", "cm", "x", "-n", ns); strings.TrimSpace(out) != `configmap "x" deleted` {
		t.Errorf("delete printed %q", out)
	}
	wantGone(t, ns, "cm", "x")
	stdout, stderr, err := kubectl(t, "delete", "cm", "x", "-n", ns)
	wantContains(t, "second delete", wantFail(t, "second delete", stdout, stderr, err),
		`Error from server (NotFound): configmaps "x" not found`)

	// An unbound pod has nothing to terminate: a graceful delete removes it
	// at once, and so does a forced one.
	mustKubectl(t, "run", "p", "--image=busybox:1.36", "-n", ns)
	mustKubectl(t, "run", "q", "--image=busybox:1.36", "-n", ns)
	stdout, stderr, err = kubectl(t, "delete", "pod", "p", "--grace-period=0", "--force", "-n", ns)
	if err != nil {
		t.Errorf("force delete: %v: %s", err, stderr)
	}
	if strings.TrimSpace(stdout) != `pod "p" force deleted` {
		t.Errorf("force delete printed %q", stdout)
	}
	wantContains(t, "force delete warning", stderr, "Immediate deletion does not wait for confirmation")
	wantGone(t, ns, "pod", "p")

	stdout, stderr, err = kubectl(t, "delete", "pod", "q", "-n", ns, "--timeout=20s")
	if err != nil || strings.TrimSpace(stdout) != `pod "q" deleted` {
		t.Errorf("graceful delete of an unbound pod: err=%v stdout=%q stderr=%q", err, stdout, stderr)
	}
	wantGone(t, ns, "pod", "q")

	// A bound pod is deleted gracefully: it lingers as Terminating with the
	// default grace period until its kubelet (none yet) confirms; a forced
	// delete then removes it.
	bound := writeFile(t, "bound.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bound\nspec:\n  nodeName: node-e2e\n"+
		"  containers:\n  - name: c\n    image: busybox:1.36\n")
	mustKubectl(t, "create", "-f", bound, "-n", ns)
	if out := mustKubectl(t, "delete", "pod", "bound", "--wait=false", "-n", ns); strings.TrimSpace(out) != `pod "bound" deleted` {
		t.Errorf("delete bound pod printed %q", out)
	}
	wantRow(t, parseTable(t, mustKubectl(t, "get", "pod", "bound", "-n", ns)), "bound", map[string]string{"STATUS": "Terminating"})
	if got := jsonpath(t, "{.metadata.deletionGracePeriodSeconds}", "pod", "bound", "-n", ns); got != "30" {
		t.Errorf("bound pod deletionGracePeriodSeconds = %q, want 30", got)
	}
	mustKubectl(t, "delete", "pod", "bound", "--grace-period=0", "--force", "-n", ns)
	wantGone(t, ns, "pod", "bound")

	// Delete by label selector deletes each match.
	for _, name := range []string{"l1", "l2", "keep"} {
		mustKubectl(t, "create", "configmap", name, "-n", ns)
	}
	mustKubectl(t, "label", "cm", "l1", "l2", "group=doomed", "-n", ns)
	out := mustKubectl(t, "delete", "cm", "-l", "group=doomed", "-n", ns)
	wantLines(t, "delete -l", out, `configmap "l1" deleted`, `configmap "l2" deleted`)
	wantGone(t, ns, "cm", "l1")
	wantRow(t, parseTable(t, mustKubectl(t, "get", "cm", "keep", "-n", ns)), "keep", map[string]string{"DATA": "0"})
}

// TestDeleteCascade: orphan and foreground deletion leave the object with
// a deletionTimestamp and the matching finalizer (no garbage collector runs
// yet); removing the finalizer completes the deletion.
func TestDeleteCascade(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "cascade")
	for _, c := range []struct{ cascade, finalizer string }{
		{"orphan", "orphan"},
		{"foreground", "foregroundDeletion"},
	} {
		name := "web-" + c.cascade
		mustKubectl(t, "create", "deployment", name, "--image=nginx", "-n", ns)
		out := mustKubectl(t, "delete", "deploy", name, "--cascade="+c.cascade, "--wait=false", "-n", ns)
		if strings.TrimSpace(out) != `deployment.apps "`+name+`" deleted` {
			t.Errorf("delete --cascade=%s printed %q", c.cascade, out)
		}
		if got := jsonpath(t, "{.metadata.finalizers}", "deploy", name, "-n", ns); got != `["`+c.finalizer+`"]` {
			t.Errorf("--cascade=%s: finalizers = %s, want [%q]", c.cascade, got, c.finalizer)
		}
		ts := jsonpath(t, "{.metadata.deletionTimestamp}", "deploy", name, "-n", ns)
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			t.Errorf("--cascade=%s: deletionTimestamp = %q: %v", c.cascade, ts, err)
		}

		// A second delete with the same policy is accepted and changes
		// nothing.
		if _, errOut, err := kubectl(t, "delete", "deploy", name, "--cascade="+c.cascade, "--wait=false", "-n", ns); err != nil {
			t.Errorf("second delete of a terminating deployment: %v: %s", err, errOut)
		}
		if got := jsonpath(t, "{.metadata.finalizers}/{.metadata.deletionTimestamp}", "deploy", name, "-n", ns); got != `["`+c.finalizer+`"]/`+ts {
			t.Errorf("after a second delete finalizers/deletionTimestamp = %s, want [%q]/%s", got, c.finalizer, ts)
		}

		mustKubectl(t, "patch", "deploy", name, "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
		wantGone(t, ns, "deploy", name)
	}
}

// TestWait: kubectl wait returns once another client deletes the object
// (--for=delete), sets a field (--for=jsonpath) or a condition
// (--for=condition).
func TestWait(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "wait")
	mustKubectl(t, "create", "configmap", "x", "-n", ns)
	mustKubectl(t, "create", "configmap", "y", "-n", ns)
	mustKubectl(t, "run", "p", "--image=busybox:1.36", "-n", ns)
	for _, c := range []struct {
		what   string
		args   []string
		change []string
		want   string
	}{
		{"--for=delete", []string{"wait", "--for=delete", "cm/x"},
			[]string{"delete", "cm", "x"}, "configmap/x condition met"},
		{"--for=jsonpath", []string{"wait", "--for=jsonpath={.data.k}=v", "cm/y"},
			[]string{"patch", "cm", "y", "--type=merge", "-p", `{"data":{"k":"v"}}`}, "configmap/y condition met"},
		{"--for=condition", []string{"wait", "--for=condition=Ready", "pod/p"},
			[]string{"patch", "pod", "p", "--subresource=status", "--type=merge", "-p",
				`{"status":{"conditions":[{"type":"Ready","status":"True"}]}}`}, "pod/p condition met"},
	} {
		w := startKubectl(t, 30*time.Second, append(c.args, "--timeout=20s", "-n", ns)...)
		if exited, err := w.wait(time.Second); exited {
			t.Errorf("kubectl wait %s returned before the change: %v\n%s%s", c.what, err, w.stdout(), w.stderr())
			continue
		}
		changed := time.Now()
		mustKubectl(t, append(c.change, "-n", ns)...)
		exited, err := w.wait(15 * time.Second)
		if !exited {
			t.Errorf("kubectl wait %s still running 15s after the change; stdout=%q stderr=%q", c.what, w.stdout(), w.stderr())
			continue
		}
		if err != nil {
			t.Errorf("kubectl wait %s: %v\nstdout=%q stderr=%q", c.what, err, w.stdout(), w.stderr())
			continue
		}
		t.Logf("kubectl wait %s returned %v after the change", c.what, time.Since(changed).Round(time.Millisecond))
		if strings.TrimSpace(w.stdout()) != c.want {
			t.Errorf("kubectl wait %s printed %q, want %q", c.what, w.stdout(), c.want)
		}
	}
}
