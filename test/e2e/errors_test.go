package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestErrors: the metav1.Status errors kubectl turns into its usual
// messages.
func TestErrors(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "errors")

	stdout, stderr, err := kubectl(t, "get", "pod", "nope", "-n", ns)
	if msg := wantFail(t, "get missing pod", stdout, stderr, err); strings.TrimSpace(msg) != `Error from server (NotFound): pods "nope" not found` {
		t.Errorf("get missing pod printed %q", msg)
	}
	stdout, stderr, err = kubectl(t, "get", "deploy", "nope", "-n", ns)
	if msg := wantFail(t, "get missing deployment", stdout, stderr, err); strings.TrimSpace(msg) != `Error from server (NotFound): deployments.apps "nope" not found` {
		t.Errorf("get missing deployment printed %q", msg)
	}

	// Creating in a namespace that does not exist.
	missing := "e2e-does-not-exist"
	stdout, stderr, err = kubectl(t, "run", "p", "--image=busybox:1.36", "-n", missing)
	if msg := wantFail(t, "run in a missing namespace", stdout, stderr, err); strings.TrimSpace(msg) != `Error from server (NotFound): namespaces "`+missing+`" not found` {
		t.Errorf("run in a missing namespace printed %q", msg)
	}
	stdout, stderr, err = kubectl(t, "create", "-f", writeFile(t, "cm.yaml", configMapYAML(missing, "c", "", map[string]string{"a": "b"})))
	wantContains(t, "create -f in a missing namespace", wantFail(t, "create -f in a missing namespace", stdout, stderr, err),
		"Error from server (NotFound)", `namespaces "`+missing+`" not found`)

	// An invalid object: 422 with the field causes.
	bad := writeFile(t, "bad.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name
spec:
  containers:
  - name: c
    image: busybox:1.36
`)
	stdout, stderr, err = kubectl(t, "create", "-f", bad, "-n", ns)
	msg := wantFail(t, "create invalid pod", stdout, stderr, err)
	if !regexp.MustCompile(`^The Pod "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`).MatchString(msg) {
		t.Errorf("create invalid pod printed %q", msg)
	}
	noContainers := writeFile(t, "empty.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: empty\nspec:\n  containers: []\n")
	stdout, stderr, err = kubectl(t, "create", "-f", noContainers, "-n", ns)
	wantContains(t, "create pod without containers", wantFail(t, "pod without containers", stdout, stderr, err),
		`The Pod "empty" is invalid: spec.containers: Required value`)

	// Unknown fields: kubectl asks for fieldValidation=Strict and prints
	// the server's strict decoding error; nothing is created.
	unknown := writeFile(t, "unknown.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: strict
spec:
  bogus: 1
  containers:
  - name: c
    image: busybox:1.36
`)
	stdout, stderr, err = kubectl(t, "apply", "-f", unknown, "-n", ns)
	msg = wantFail(t, "apply with an unknown field", stdout, stderr, err)
	wantContains(t, "apply with an unknown field", msg, "Error from server (BadRequest)", `strict decoding error: unknown field "spec.bogus"`)
	wantGone(t, ns, "pod", "strict")
	// --validate=false drops the field instead.
	stdout, stderr, err = kubectl(t, "apply", "-f", unknown, "-n", ns, "--validate=false")
	if err != nil || strings.TrimSpace(stdout) != "pod/strict created" {
		t.Errorf("apply --validate=false: err=%v stdout=%q stderr=%q", err, stdout, stderr)
	}

	// Updates that validation rejects.
	mustKubectl(t, "create", "deployment", "web", "--image=nginx", "-n", ns)
	stdout, stderr, err = kubectl(t, "patch", "deploy", "web", "-n", ns, "--type=merge", "-p", `{"spec":{"selector":{"matchLabels":{"app":"other"}}}}`)
	wantContains(t, "changing a deployment's selector", wantFail(t, "changing the selector", stdout, stderr, err),
		`The Deployment "web" is invalid`, "spec.selector: Invalid value:", "field is immutable")

	// The namespaces the system owns.
	stdout, stderr, err = kubectl(t, "create", "namespace", "default")
	if msg := wantFail(t, "create ns default", stdout, stderr, err); strings.TrimSpace(msg) != `Error from server (AlreadyExists): namespaces "default" already exists` {
		t.Errorf("create ns default printed %q", msg)
	}
	for _, sys := range []string{"default", "kube-system", "kube-public"} {
		stdout, stderr, err = kubectl(t, "delete", "namespace", sys, "--wait=false")
		if msg := wantFail(t, "delete ns "+sys, stdout, stderr, err); strings.TrimSpace(msg) != `Error from server (Forbidden): namespaces "`+sys+`" is forbidden: this namespace may not be deleted` {
			t.Errorf("delete ns %s printed %q", sys, msg)
		}
	}

	// A resource type the server does not serve.
	stdout, stderr, err = kubectl(t, "get", "widgets", "-n", ns)
	wantContains(t, "get unknown type", wantFail(t, "get unknown type", stdout, stderr, err),
		`the server doesn't have a resource type "widgets"`)
}

// TestUnknownPaths: a path no API serves is a 404 whose Status says so in
// the words kubectl users know.
func TestUnknownPaths(t *testing.T) {
	t.Parallel()
	useShared(t)
	for _, path := range []string{
		"/apis/nope.example.com/v1",
		"/api/v1/namespaces/default/widgets",
		"/not-an-api",
	} {
		stdout, stderr, err := kubectl(t, "get", "--raw", path)
		if msg := wantFail(t, "GET "+path, stdout, stderr, err); strings.TrimSpace(msg) != "Error from server (NotFound): the server could not find the requested resource" {
			t.Errorf("GET %s printed %q, want the server could not find the requested resource", path, msg)
		}
	}
}
