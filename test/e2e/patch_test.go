package e2e

import (
	"strings"
	"testing"
)

// TestPatch: the three patch types kubectl sends.
func TestPatch(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "patch")
	mustKubectl(t, "create", "deployment", "web", "--image=nginx:1.26", "-n", ns)

	// Strategic merge (the default) merges containers by name: adding a
	// sidecar keeps nginx, and changing nginx's image keeps the sidecar.
	out := mustKubectl(t, "patch", "deploy", "web", "-n", ns, "-p",
		`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}`)
	if strings.TrimSpace(out) != "deployment.apps/web patched" {
		t.Errorf("patch printed %q", out)
	}
	mustKubectl(t, "patch", "deploy", "web", "-n", ns, "--type=strategic", "-p",
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}`)
	if got := jsonpath(t, "{.spec.template.spec.containers[*].name}={.spec.template.spec.containers[*].image}", "deploy", "web", "-n", ns); got != "nginx sidecar=nginx:1.27 busybox:1.36" &&
		got != "sidecar nginx=busybox:1.36 nginx:1.27" {
		t.Errorf("containers after strategic patches = %q", got)
	}
	if got := jsonpath(t, "{.metadata.generation}", "deploy", "web", "-n", ns); got != "3" {
		t.Errorf("generation after two spec patches = %q, want 3", got)
	}

	// A patch that changes nothing is reported as such.
	out = mustKubectl(t, "patch", "deploy", "web", "-n", ns, "-p",
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}`)
	if strings.TrimSpace(out) != "deployment.apps/web patched (no change)" {
		t.Errorf("no-op patch printed %q", out)
	}

	// Merge patch: null deletes a key.
	mustKubectl(t, "create", "configmap", "m", "--from-literal=a=1", "--from-literal=b=2", "-n", ns)
	mustKubectl(t, "patch", "cm", "m", "-n", ns, "--type=merge", "-p", `{"data":{"a":null,"c":"3"}}`)
	if got := jsonpath(t, "{.data}", "cm", "m", "-n", ns); got != `{"b":"2","c":"3"}` {
		t.Errorf("configmap data after merge patch = %s", got)
	}

	// JSON patch.
	mustKubectl(t, "patch", "deploy", "web", "-n", ns, "--type=json", "-p",
		`[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/metadata/labels/tier","value":"front"}]`)
	if got := jsonpath(t, "{.spec.replicas}/{.metadata.labels.tier}", "deploy", "web", "-n", ns); got != "3/front" {
		t.Errorf("after json patch replicas/tier = %q, want 3/front", got)
	}
	stdout, stderr, err := kubectl(t, "patch", "deploy", "web", "-n", ns, "--type=json", "-p",
		`[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":7}]`)
	wantContains(t, "failing json patch test op", wantFail(t, "json patch test op", stdout, stderr, err), "testing value /spec/replicas failed")
	if got := jsonpath(t, "{.spec.replicas}", "deploy", "web", "-n", ns); got != "3" {
		t.Errorf("failed json patch changed replicas to %s", got)
	}

	// A patch of an object that does not exist is NotFound.
	stdout, stderr, err = kubectl(t, "patch", "cm", "nope", "-n", ns, "--type=merge", "-p", `{"data":{"a":"b"}}`)
	wantContains(t, "patch of a missing object", wantFail(t, "patch missing", stdout, stderr, err),
		`Error from server (NotFound): configmaps "nope" not found`)
}

// TestLabelAnnotate: label and annotate send merge patches; without
// --overwrite kubectl refuses to change an existing value; key- removes.
func TestLabelAnnotate(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "label")
	mustKubectl(t, "create", "deployment", "web", "--image=nginx", "-n", ns)

	if out := mustKubectl(t, "label", "deploy", "web", "tier=frontend", "-n", ns); strings.TrimSpace(out) != "deployment.apps/web labeled" {
		t.Errorf("label printed %q", out)
	}
	stdout, stderr, err := kubectl(t, "label", "deploy", "web", "tier=backend", "-n", ns)
	wantContains(t, "label without --overwrite", wantFail(t, "label without --overwrite", stdout, stderr, err),
		"'tier' already has a value (frontend), and --overwrite is false")
	mustKubectl(t, "label", "deploy", "web", "tier=backend", "--overwrite", "-n", ns)

	tb := parseTable(t, mustKubectl(t, "get", "deploy", "web", "-n", ns, "-L", "tier"))
	wantRow(t, tb, "web", map[string]string{"TIER": "backend"})
	tb = parseTable(t, mustKubectl(t, "get", "deploy", "-n", ns, "--show-labels"))
	wantRow(t, tb, "web", map[string]string{"LABELS": "app=web,tier=backend"})
	tb = parseTable(t, mustKubectl(t, "get", "deploy", "-n", ns, "-l", "tier=backend"))
	wantRow(t, tb, "web", nil)

	if out := mustKubectl(t, "label", "deploy", "web", "tier-", "-n", ns); strings.TrimSpace(out) != "deployment.apps/web unlabeled" {
		t.Errorf("label removal printed %q", out)
	}
	if got := jsonpath(t, "{.metadata.labels}", "deploy", "web", "-n", ns); got != `{"app":"web"}` {
		t.Errorf("labels after removal = %s", got)
	}
	_, stderr, _ = kubectl(t, "get", "deploy", "-n", ns, "-l", "tier=backend")
	wantContains(t, "selector after removal", stderr, "No resources found in "+ns+" namespace.")

	if out := mustKubectl(t, "annotate", "deploy", "web", "note=one", "-n", ns); strings.TrimSpace(out) != "deployment.apps/web annotated" {
		t.Errorf("annotate printed %q", out)
	}
	stdout, stderr, err = kubectl(t, "annotate", "deploy", "web", "note=two", "-n", ns)
	wantContains(t, "annotate without --overwrite", wantFail(t, "annotate without --overwrite", stdout, stderr, err),
		"'note' already has a value (one)")
	mustKubectl(t, "annotate", "deploy", "web", "note=two", "--overwrite", "-n", ns)
	if got := jsonpath(t, "{.metadata.annotations.note}", "deploy", "web", "-n", ns); got != "two" {
		t.Errorf("annotation note = %q, want two", got)
	}
	mustKubectl(t, "annotate", "deploy", "web", "note-", "-n", ns)
	if got := jsonpath(t, "{.metadata.annotations.note}", "deploy", "web", "-n", ns); got != "" {
		t.Errorf("annotation note after removal = %q", got)
	}
}

// TestScale: kubectl scale goes through deployments/scale; with
// --current-replicas it GETs the Scale and PUTs it with a precondition.
func TestScale(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "scale")
	mustKubectl(t, "create", "deployment", "web", "--image=nginx", "-n", ns)

	if out := mustKubectl(t, "scale", "deploy/web", "--replicas=5", "-n", ns); strings.TrimSpace(out) != "deployment.apps/web scaled" {
		t.Errorf("scale printed %q", out)
	}
	if got := jsonpath(t, "{.spec.replicas}", "deploy", "web", "-n", ns); got != "5" {
		t.Errorf("replicas = %q, want 5", got)
	}

	stdout, stderr, err := kubectl(t, "scale", "deploy/web", "--current-replicas=4", "--replicas=6", "-n", ns)
	wantContains(t, "scale with a wrong precondition", wantFail(t, "scale precondition", stdout, stderr, err),
		"Expected replicas to be 4, was 5")
	if got := jsonpath(t, "{.spec.replicas}", "deploy", "web", "-n", ns); got != "5" {
		t.Errorf("replicas after failed scale = %q, want 5", got)
	}

	mustKubectl(t, "scale", "deploy/web", "--current-replicas=5", "--replicas=6", "-n", ns)
	if got := jsonpath(t, "{.spec.replicas}", "deploy", "web", "-n", ns); got != "6" {
		t.Errorf("replicas = %q, want 6", got)
	}

	// The Scale subresource itself, as kubectl reads it.
	if got := mustKubectl(t, "get", "--raw", "/apis/apps/v1/namespaces/"+ns+"/deployments/web/scale"); !strings.Contains(got, `"kind":"Scale"`) ||
		!strings.Contains(got, `"apiVersion":"autoscaling/v1"`) || !strings.Contains(got, `"replicas":6`) ||
		!strings.Contains(got, `"selector":"app=web"`) {
		t.Errorf("GET deployments/web/scale = %s", got)
	}
	// kubectl get --subresource=scale prints the Scale table.
	tb := parseTable(t, mustKubectl(t, "get", "deploy", "web", "-n", ns, "--subresource=scale"))
	wantHeader(t, tb, "NAME", "DESIRED", "AVAILABLE", "AGE")
	wantRow(t, tb, "web", map[string]string{"DESIRED": "6"})
}
