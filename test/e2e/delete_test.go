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

// TestDeleteCascade: the garbage collector honours --cascade: orphan
// leaves the ReplicaSet without its owner reference, foreground removes
// the ReplicaSet before the Deployment, background removes it after.
func TestDeleteCascade(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "cascade")
	for _, cascade := range []string{"orphan", "foreground", "background"} {
		name := "web-" + cascade
		mustKubectl(t, "create", "deployment", name, "--image=nginx", "-n", ns)
		var rs string
		deadline := time.Now().Add(20 * time.Second)
		for rs == "" && time.Now().Before(deadline) {
			rs = jsonpath(t, "{.items[0].metadata.name}", "rs", "-l", "app="+name, "-n", ns)
			if rs == "" {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if rs == "" {
			t.Fatalf("no ReplicaSet for deployment %s", name)
		}
		out := mustKubectl(t, "delete", "deploy", name, "--cascade="+cascade, "-n", ns)
		if strings.TrimSpace(out) != `deployment.apps "`+name+`" deleted` {
			t.Errorf("delete --cascade=%s printed %q", cascade, out)
		}
		wantGone(t, ns, "deploy", name)
		if cascade == "orphan" {
			if got := jsonpath(t, "{.metadata.ownerReferences}", "rs", rs, "-n", ns); got != "" {
				t.Errorf("orphaned ReplicaSet still has owner references: %s", got)
			}
			continue
		}
		mustKubectl(t, "wait", "--for=delete", "rs/"+rs, "-n", ns, "--timeout=30s")
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
