package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// appManifest is a ConfigMap, a Deployment and a Service in one file.
func appManifest(ns, image string, replicas, port int, data string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: %[1]s
data:
%[5]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: %[1]s
  labels:
    app: app
spec:
  replicas: %[3]d
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: main
        image: %[2]s
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: %[1]s
spec:
  selector:
    app: app
  ports:
  - name: http
    port: %[4]d
    targetPort: 8080
`, ns, image, replicas, port, data)
}

// TestClientSideApply: create by apply, re-apply a changed file (GET +
// strategic merge PATCH, fields dropped from the file are removed), and
// apply again unchanged.
func TestClientSideApply(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "apply")
	v1 := writeFile(t, "v1.yaml", appManifest(ns, "nginx:1.26", 1, 80, "  color: blue\n  size: large"))
	out := mustKubectl(t, "apply", "-f", v1)
	wantLines(t, "first apply", out,
		"configmap/app-config created", "deployment.apps/app created", "service/app created")
	if got := jsonpath(t, `{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}`, "cm", "app-config", "-n", ns); !strings.Contains(got, `"color":"blue"`) {
		t.Errorf("last-applied-configuration = %q", got)
	}
	clusterIP := jsonpath(t, "{.spec.clusterIP}", "svc", "app", "-n", ns)
	if !strings.HasPrefix(clusterIP, "10.43.") {
		t.Errorf("service clusterIP = %q, want one from 10.43.0.0/16", clusterIP)
	}

	v2 := writeFile(t, "v2.yaml", appManifest(ns, "nginx:1.27", 3, 8080, "  color: green"))
	out = mustKubectl(t, "apply", "-f", v2)
	wantLines(t, "second apply", out,
		"configmap/app-config configured", "deployment.apps/app configured", "service/app configured")
	for _, c := range []struct{ expr, want string }{
		{"{.data}", `{"color":"green"}`}, // size was dropped from the file, so removed
	} {
		if got := jsonpath(t, c.expr, "cm", "app-config", "-n", ns); got != c.want {
			t.Errorf("configmap %s = %q, want %q", c.expr, got, c.want)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{"{.spec.replicas}", "3"},
		{"{.spec.template.spec.containers[*].image}", "nginx:1.27"},
		{"{.metadata.generation}", "2"},
	} {
		if got := jsonpath(t, c.expr, "deploy", "app", "-n", ns); got != c.want {
			t.Errorf("deployment %s = %q, want %q", c.expr, got, c.want)
		}
	}
	if got := jsonpath(t, "{.spec.ports[*].port}", "svc", "app", "-n", ns); got != "8080" {
		t.Errorf("service ports = %q, want 8080", got)
	}
	if got := jsonpath(t, "{.spec.clusterIP}", "svc", "app", "-n", ns); got != clusterIP {
		t.Errorf("service clusterIP changed on apply: %q -> %q", clusterIP, got)
	}

	out = mustKubectl(t, "apply", "-f", v2)
	wantLines(t, "unchanged apply", out,
		"configmap/app-config unchanged", "deployment.apps/app unchanged", "service/app unchanged")

	// Server-side dry run validates but persists nothing.
	v3 := writeFile(t, "v3.yaml", appManifest(ns, "nginx:1.28", 5, 8080, "  color: red"))
	out = mustKubectl(t, "apply", "-f", v3, "--dry-run=server")
	wantContains(t, "dry-run apply", out, "deployment.apps/app configured (server dry run)")
	if got := jsonpath(t, "{.spec.replicas}", "deploy", "app", "-n", ns); got != "3" {
		t.Errorf("after dry run replicas = %q, want 3", got)
	}
}

// ssaManifest is a ConfigMap and a Deployment for server-side apply.
func ssaManifest(ns, value string, replicas int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa-config
  namespace: %[1]s
data:
  key: %[2]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
  namespace: %[1]s
spec:
  replicas: %[3]d
  selector:
    matchLabels:
      app: ssa
  template:
    metadata:
      labels:
        app: ssa
    spec:
      containers:
      - name: main
        image: busybox:1.36
`, ns, value, replicas)
}

// TestServerSideApply: one PATCH per object that creates it; a second
// manager changing an owned field gets a conflict; --force-conflicts takes
// the field over.
func TestServerSideApply(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "ssa")
	out := mustKubectl(t, "apply", "--server-side", "-f", writeFile(t, "a.yaml", ssaManifest(ns, "one", 2)))
	wantLines(t, "server-side apply", out,
		"configmap/ssa-config serverside-applied", "deployment.apps/ssa serverside-applied")
	if got := jsonpath(t, "{.data.key}", "cm", "ssa-config", "-n", ns); got != "one" {
		t.Errorf("data.key = %q, want one", got)
	}
	if got := jsonpath(t, "{.metadata.managedFields[*].manager}", "cm", "ssa-config", "-n", ns); got != "kubectl" {
		t.Errorf("managers = %q, want kubectl", got)
	}
	if got := jsonpath(t, "{.metadata.managedFields[*].operation}", "cm", "ssa-config", "-n", ns); got != "Apply" {
		t.Errorf("managedFields operation = %q, want Apply", got)
	}

	other := writeFile(t, "b.yaml", ssaManifest(ns, "two", 4))
	stdout, stderr, err := kubectl(t, "apply", "--server-side", "--field-manager=other", "-f", other)
	msg := wantFail(t, "conflicting apply", stdout, stderr, err)
	wantContains(t, "conflicting apply", msg,
		"Apply failed with 1 conflict", `conflict with "kubectl"`, ".data.key", ".spec.replicas")
	if got := jsonpath(t, "{.data.key}", "cm", "ssa-config", "-n", ns); got != "one" {
		t.Errorf("after conflict data.key = %q, want one", got)
	}

	out = mustKubectl(t, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other)
	wantLines(t, "forced apply", out,
		"configmap/ssa-config serverside-applied", "deployment.apps/ssa serverside-applied")
	if got := jsonpath(t, "{.data.key}", "cm", "ssa-config", "-n", ns); got != "two" {
		t.Errorf("after force data.key = %q, want two", got)
	}
	if got := jsonpath(t, "{.spec.replicas}", "deploy", "ssa", "-n", ns); got != "4" {
		t.Errorf("after force replicas = %q, want 4", got)
	}
	if got := jsonpath(t, "{.metadata.managedFields[*].manager}", "cm", "ssa-config", "-n", ns); !strings.Contains(got, "other") {
		t.Errorf("managers after force = %q, want other among them", got)
	}
}

// listsV1 and listsV2 are a Deployment whose lists and strategy change
// between versions.
const listsV1 = `apiVersion: apps/v1
kind: Deployment
metadata: {name: lists}
spec:
  selector: {matchLabels: {app: lists}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}
  template:
    metadata: {labels: {app: lists}}
    spec:
      containers:
      - name: a
        image: nginx
        env: [{name: FIRST, value: "1"}, {name: SECOND, value: "2"}]
      - name: b
        image: busybox:1.36
`

const listsV2 = `apiVersion: apps/v1
kind: Deployment
metadata: {name: lists}
spec:
  selector: {matchLabels: {app: lists}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: lists}}
    spec:
      containers:
      - name: c
        image: redis
      - name: a
        image: nginx
        env: [{name: SECOND, value: "3"}]
`

// TestApplyLists: re-applying a deployment with containers added, removed
// and reordered, an env var dropped and the strategy type switched; client
// side this needs $setElementOrder, $retainKeys and list-item deletion in
// the strategic merge patch, server side the managed-fields bookkeeping.
func TestApplyLists(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "apply-lists")
	for _, mode := range []string{"client-side", "server-side"} {
		args := []string{"apply", "-n", ns, "-f"}
		if mode == "server-side" {
			args = []string{"apply", "--server-side", "-n", ns, "-f"}
		}
		name := "lists-" + strings.TrimSuffix(mode, "-side")
		v1 := strings.ReplaceAll(listsV1, "name: lists", "name: "+name)
		v2 := strings.ReplaceAll(listsV2, "name: lists", "name: "+name)
		mustKubectl(t, append(args, writeFile(t, "v1.yaml", v1))...)
		mustKubectl(t, append(args, writeFile(t, "v2.yaml", v2))...)
		got := jsonpath(t, "{.spec.strategy} {.spec.template.spec.containers[*].name} {.spec.template.spec.containers[?(@.name==\"a\")].env}",
			"deploy", name, "-n", ns)
		if want := `{"type":"Recreate"} c a [{"name":"SECOND","value":"3"}]`; got != want {
			t.Errorf("%s apply: strategy, containers, env = %s, want %s", mode, got, want)
		}
	}
}
