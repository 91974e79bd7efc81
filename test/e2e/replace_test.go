package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func configMapYAML(ns, name, resourceVersion string, data map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n", name, ns)
	if resourceVersion != "" {
		fmt.Fprintf(&b, "  resourceVersion: %q\n", resourceVersion)
	}
	b.WriteString("data:\n")
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %q\n", k, v)
	}
	return b.String()
}

// TestCreateReplace: create -f, replace -f with a changed object, and a
// replace carrying a stale resourceVersion answered with 409 Conflict.
func TestCreateReplace(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "replace")
	out := mustKubectl(t, "create", "-f", writeFile(t, "cm.yaml", configMapYAML(ns, "rep", "", map[string]string{"k": "v1"})))
	if strings.TrimSpace(out) != "configmap/rep created" {
		t.Errorf("create -f printed %q", out)
	}
	stdout, stderr, err := kubectl(t, "create", "-f", writeFile(t, "cm.yaml", configMapYAML(ns, "rep", "", map[string]string{"k": "v1"})))
	msg := wantFail(t, "second create", stdout, stderr, err)
	wantContains(t, "second create", msg, `Error from server (AlreadyExists)`, `configmaps "rep" already exists`)

	rv1 := jsonpath(t, "{.metadata.resourceVersion}", "cm", "rep", "-n", ns)
	uid := jsonpath(t, "{.metadata.uid}", "cm", "rep", "-n", ns)

	out = mustKubectl(t, "replace", "-f", writeFile(t, "cm2.yaml", configMapYAML(ns, "rep", "", map[string]string{"k": "v2"})))
	if strings.TrimSpace(out) != "configmap/rep replaced" {
		t.Errorf("replace -f printed %q", out)
	}
	if got := jsonpath(t, "{.data.k}", "cm", "rep", "-n", ns); got != "v2" {
		t.Errorf("after replace data.k = %q, want v2", got)
	}
	if got := jsonpath(t, "{.metadata.uid}", "cm", "rep", "-n", ns); got != uid {
		t.Errorf("replace changed uid %s -> %s", uid, got)
	}
	rv2 := jsonpath(t, "{.metadata.resourceVersion}", "cm", "rep", "-n", ns)
	if rv2 == rv1 {
		t.Errorf("replace did not change resourceVersion %s", rv1)
	}

	// Replacing with the current resourceVersion works; with the stale one
	// it is a conflict and changes nothing.
	out = mustKubectl(t, "replace", "-f", writeFile(t, "cm3.yaml", configMapYAML(ns, "rep", rv2, map[string]string{"k": "v3"})))
	if strings.TrimSpace(out) != "configmap/rep replaced" {
		t.Errorf("replace with current resourceVersion printed %q", out)
	}
	stdout, stderr, err = kubectl(t, "replace", "-f", writeFile(t, "stale.yaml", configMapYAML(ns, "rep", rv1, map[string]string{"k": "stale"})))
	msg = wantFail(t, "stale replace", stdout, stderr, err)
	wantContains(t, "stale replace", msg, "Error from server (Conflict)",
		`Operation cannot be fulfilled on configmaps "rep": the object has been modified; please apply your changes to the latest version and try again`)
	if got := jsonpath(t, "{.data.k}", "cm", "rep", "-n", ns); got != "v3" {
		t.Errorf("after stale replace data.k = %q, want v3", got)
	}

	// replace of an object that does not exist is NotFound.
	stdout, stderr, err = kubectl(t, "replace", "-f", writeFile(t, "ghost.yaml", configMapYAML(ns, "ghost", "", map[string]string{"k": "v"})))
	msg = wantFail(t, "replace of a missing object", stdout, stderr, err)
	wantContains(t, "replace of a missing object", msg, "Error from server (NotFound)", `configmaps "ghost" not found`)
}

// TestEdit: kubectl edit runs $KUBE_EDITOR on the object's YAML and sends
// the difference as a strategic merge patch.
func TestEdit(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "edit")
	mustKubectl(t, "create", "configmap", "x", "--from-literal=greeting=old-value", "-n", ns)

	dir := t.TempDir()
	editor := filepath.Join(dir, "editor.sh")
	script := "#!/bin/sh\nsed -i 's/old-value/new-value/' \"$1\"\n"
	if err := os.WriteFile(editor, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	s := sharedServer(t)
	out, errOut, err := s.kubectlWith(t, runOpts{env: []string{"KUBE_EDITOR=" + editor}}, "edit", "cm/x", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl edit: %v\n%s%s", err, out, errOut)
	}
	if strings.TrimSpace(out) != "configmap/x edited" {
		t.Errorf("edit printed %q", out)
	}
	if got := jsonpath(t, "{.data.greeting}", "cm", "x", "-n", ns); got != "new-value" {
		t.Errorf("after edit data.greeting = %q, want new-value", got)
	}

	// Editing without a change sends nothing.
	out, errOut, err = s.kubectlWith(t, runOpts{env: []string{"KUBE_EDITOR=true"}}, "edit", "cm/x", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl edit (no change): %v\n%s%s", err, out, errOut)
	}
	wantContains(t, "edit without change", out+errOut, "Edit cancelled, no changes made.")
}
