package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGetAll: `get all` walks the "all" category and prints one table per
// kind, names prefixed with the kind.
func TestGetAll(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "get-all")
	mustKubectl(t, "create", "deployment", "web", "--image=nginx", "-n", ns)
	mustKubectl(t, "create", "service", "clusterip", "web", "--tcp=80:8080", "-n", ns)
	mustKubectl(t, "run", "p", "--image=busybox:1.36", "-n", ns)
	mustKubectl(t, "create", "configmap", "not-in-all", "-n", ns)

	names := map[string]bool{}
	for _, tb := range parseTables(mustKubectl(t, "get", "all", "-n", ns)) {
		if len(tb.header) == 0 || tb.header[0] != "NAME" {
			t.Errorf("get all: table header %q", tb.header)
			continue
		}
		for _, n := range tb.column("NAME") {
			names[n] = true
		}
	}
	for _, want := range []string{"pod/p", "service/web", "deployment.apps/web"} {
		if !names[want] {
			t.Errorf("get all: no %s among %v", want, names)
		}
	}
	for n := range names {
		if strings.HasPrefix(n, "configmap/") {
			t.Errorf("get all lists %s; configmaps are not in the all category", n)
		}
	}

	tb := parseTable(t, mustKubectl(t, "get", "svc", "web", "-n", ns, "-o", "wide"))
	wantRow(t, tb, "web", map[string]string{"TYPE": "ClusterIP", "PORT(S)": "80/TCP", "SELECTOR": "app=web"})
}

// TestEvents: events print the event columns, and describe shows the
// events of the object.
func TestEvents(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "events")
	_, stderr, err := kubectl(t, "get", "events", "-n", ns)
	if err != nil || !strings.Contains(stderr, "No resources found in "+ns+" namespace.") {
		t.Errorf("get events in an empty namespace: err=%v stderr=%q", err, stderr)
	}

	mustKubectl(t, "run", "p", "--image=busybox:1.36", "-n", ns)
	uid := jsonpath(t, "{.metadata.uid}", "pod", "p", "-n", ns)
	now := time.Now().UTC().Format(time.RFC3339)
	event := fmt.Sprintf(`apiVersion: v1
kind: Event
metadata:
  name: p.e2e
  namespace: %[1]s
involvedObject:
  apiVersion: v1
  kind: Pod
  name: p
  namespace: %[1]s
  uid: %[2]s
reason: Testing
message: hello from e2e
type: Normal
count: 2
firstTimestamp: "%[3]s"
lastTimestamp: "%[3]s"
source:
  component: e2e
`, ns, uid, now)
	mustKubectl(t, "create", "-f", writeFile(t, "event.yaml", event))

	tb := parseTable(t, mustKubectl(t, "get", "events", "-n", ns))
	wantHeader(t, tb, "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	if rows := tb.rowsWhere(map[string]string{"TYPE": "Normal", "REASON": "Testing", "OBJECT": "pod/p", "MESSAGE": "hello from e2e"}); len(rows) != 1 {
		t.Errorf("get events: no row for the event in %q", tb.rows)
	}
	tb = parseTable(t, mustKubectl(t, "get", "ev", "-n", ns, "-o", "wide"))
	wantHeader(t, tb, "LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME")
	if rows := tb.rowsWhere(map[string]string{"SOURCE": "e2e", "COUNT": "2", "NAME": "p.e2e"}); len(rows) != 1 {
		t.Errorf("get events -o wide: no row for the event in %q", tb.rows)
	}

	// describe finds it by involvedObject field selectors.
	wantMatches(t, "describe pod events", mustKubectl(t, "describe", "pod", "p", "-n", ns),
		`(?m)^\s+Normal\s+Testing\s+.*e2e\s+hello from e2e$`)

	// The field selectors kubectl sends for events.
	out := mustKubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.kind=Pod,involvedObject.name=p,reason=Testing", "-o", "name")
	if strings.TrimSpace(out) != "event/p.e2e" {
		t.Errorf("events by field selector = %q", out)
	}
}

// TestSecretsAndConfigMaps: the typed `create` generators (protobuf bodies)
// and their table columns.
func TestSecretsAndConfigMaps(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "secrets")
	if out := mustKubectl(t, "create", "secret", "generic", "s", "--from-literal=a=b", "-n", ns); strings.TrimSpace(out) != "secret/s created" {
		t.Errorf("create secret printed %q", out)
	}
	tb := parseTable(t, mustKubectl(t, "get", "secret", "s", "-n", ns))
	wantHeader(t, tb, "NAME", "TYPE", "DATA", "AGE")
	wantRow(t, tb, "s", map[string]string{"TYPE": "Opaque", "DATA": "1"})
	if got := jsonpath(t, "{.data.a}", "secret", "s", "-n", ns); got != "Yg==" {
		t.Errorf("secret data.a = %q, want Yg== (base64 of b)", got)
	}
	mustKubectl(t, "create", "secret", "generic", "tls-ish", "--type=example.com/custom", "--from-literal=x=1", "--from-literal=y=2", "-n", ns)
	out := mustKubectl(t, "get", "secrets", "-n", ns, "--field-selector", "type=example.com/custom", "-o", "name")
	if strings.TrimSpace(out) != "secret/tls-ish" {
		t.Errorf("secrets with field selector type = %q", out)
	}

	if out := mustKubectl(t, "create", "configmap", "c", "--from-literal=k=v", "--from-literal=k2=v2", "-n", ns); strings.TrimSpace(out) != "configmap/c created" {
		t.Errorf("create configmap printed %q", out)
	}
	tb = parseTable(t, mustKubectl(t, "get", "cm", "-n", ns))
	wantHeader(t, tb, "NAME", "DATA", "AGE")
	wantRow(t, tb, "c", map[string]string{"DATA": "2"})
	if got := jsonpath(t, "{.data.k2}", "cm", "c", "-n", ns); got != "v2" {
		t.Errorf("configmap data.k2 = %q", got)
	}
}

// TestNamespaceLifecycle: create and delete a namespace; the namespace
// controller empties it and it goes away.
func TestNamespaceLifecycle(t *testing.T) {
	t.Parallel()
	useShared(t)
	ns := "e2e-ns-lifecycle"
	if out := mustKubectl(t, "create", "namespace", ns); strings.TrimSpace(out) != "namespace/"+ns+" created" {
		t.Errorf("create namespace printed %q", out)
	}
	tb := parseTable(t, mustKubectl(t, "get", "ns", ns))
	wantRow(t, tb, ns, map[string]string{"STATUS": "Active"})
	if got := jsonpath(t, "{.spec.finalizers}", "ns", ns); got != `["kubernetes"]` {
		t.Errorf("namespace spec.finalizers = %s, want [\"kubernetes\"]", got)
	}
	if got := jsonpath(t, `{.metadata.labels.kubernetes\.io/metadata\.name}`, "ns", ns); got != ns {
		t.Errorf("namespace label kubernetes.io/metadata.name = %q, want %q", got, ns)
	}
	// A finalizer on a configmap keeps the namespace Terminating.
	mustKubectl(t, "create", "configmap", "inside", "-n", ns)
	mustKubectl(t, "patch", "cm", "inside", "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":["example.com/hold"]}}`)

	if out := mustKubectl(t, "delete", "namespace", ns, "--wait=false"); strings.TrimSpace(out) != `namespace "`+ns+`" deleted` {
		t.Errorf("delete namespace printed %q", out)
	}
	tb = parseTable(t, mustKubectl(t, "get", "ns", ns))
	wantRow(t, tb, ns, map[string]string{"STATUS": "Terminating"})
	if ts := jsonpath(t, "{.metadata.deletionTimestamp}", "ns", ns); ts == "" {
		t.Errorf("terminating namespace has no deletionTimestamp")
	}

	// Nothing new may be created in a terminating namespace.
	stdout, stderr, err := kubectl(t, "create", "configmap", "late", "-n", ns)
	wantContains(t, "create in a terminating namespace", wantFail(t, "create in terminating ns", stdout, stderr, err),
		"because it is being terminated")

	// Releasing the finalizer lets the namespace controller finish.
	mustKubectl(t, "patch", "cm", "inside", "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
	mustKubectl(t, "wait", "--for=delete", "namespace/"+ns, "--timeout=60s")
}
