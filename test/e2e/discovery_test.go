package e2e

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestVersion: the dispatcher must pick kubectl 1.32 from the server's
// minor version, and the server reports v1.32.
func TestVersion(t *testing.T) {
	t.Parallel()
	useShared(t)
	out := mustKubectl(t, "version")
	for _, re := range []string{`(?m)^Client Version: v1\.32\.`, `(?m)^Server Version: v1\.32\.`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl version: no line matching %s in:\n%s", re, out)
		}
	}

	var v struct {
		ClientVersion struct{ Major, Minor, GitVersion string }
		ServerVersion struct{ Major, Minor, GitVersion, Platform string }
	}
	out = mustKubectl(t, "version", "-o", "json")
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("kubectl version -o json: %v\n%s", err, out)
	}
	if v.ServerVersion.Major != "1" || v.ServerVersion.Minor != "32" {
		t.Errorf("server version %s.%s, want 1.32", v.ServerVersion.Major, v.ServerVersion.Minor)
	}
	if !strings.HasPrefix(v.ClientVersion.Minor, "32") { // Google's builds say "32+"
		t.Errorf("dispatcher ran kubectl minor %q, want 32", v.ClientVersion.Minor)
	}
	if v.ServerVersion.Platform == "" {
		t.Errorf("server version has no platform: %+v", v.ServerVersion)
	}
}

// TestAPIResources: discovery lists every served resource with the short
// names and scope kubectl relies on.
func TestAPIResources(t *testing.T) {
	t.Parallel()
	useShared(t)
	tb := parseTable(t, mustKubectl(t, "api-resources"))
	wantHeader(t, tb, "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")
	for _, want := range []map[string]string{
		{"NAME": "pods", "SHORTNAMES": "po", "APIVERSION": "v1", "NAMESPACED": "true", "KIND": "Pod"},
		{"NAME": "services", "SHORTNAMES": "svc", "APIVERSION": "v1", "NAMESPACED": "true", "KIND": "Service"},
		{"NAME": "namespaces", "SHORTNAMES": "ns", "APIVERSION": "v1", "NAMESPACED": "false", "KIND": "Namespace"},
		{"NAME": "configmaps", "SHORTNAMES": "cm", "APIVERSION": "v1", "NAMESPACED": "true", "KIND": "ConfigMap"},
		{"NAME": "secrets", "APIVERSION": "v1", "NAMESPACED": "true", "KIND": "Secret"},
		{"NAME": "events", "SHORTNAMES": "ev", "APIVERSION": "v1", "NAMESPACED": "true", "KIND": "Event"},
		{"NAME": "events", "SHORTNAMES": "ev", "APIVERSION": "events.k8s.io/v1", "NAMESPACED": "true", "KIND": "Event"},
		{"NAME": "nodes", "SHORTNAMES": "no", "APIVERSION": "v1", "NAMESPACED": "false", "KIND": "Node"},
		{"NAME": "endpoints", "SHORTNAMES": "ep", "APIVERSION": "v1", "NAMESPACED": "true", "KIND": "Endpoints"},
		{"NAME": "serviceaccounts", "SHORTNAMES": "sa", "APIVERSION": "v1", "NAMESPACED": "true", "KIND": "ServiceAccount"},
		{"NAME": "deployments", "SHORTNAMES": "deploy", "APIVERSION": "apps/v1", "NAMESPACED": "true", "KIND": "Deployment"},
		{"NAME": "replicasets", "SHORTNAMES": "rs", "APIVERSION": "apps/v1", "NAMESPACED": "true", "KIND": "ReplicaSet"},
		{"NAME": "leases", "SHORTNAMES": "", "APIVERSION": "coordination.k8s.io/v1", "NAMESPACED": "true", "KIND": "Lease"},
		{"NAME": "endpointslices", "SHORTNAMES": "", "APIVERSION": "discovery.k8s.io/v1", "NAMESPACED": "true", "KIND": "EndpointSlice"},
	} {
		if rows := tb.rowsWhere(want); len(rows) != 1 {
			t.Errorf("api-resources: %d rows match %v, want 1", len(rows), want)
		}
	}

	// Short names resolve, and `get` of an empty kind through them works.
	ns := newNamespace(t, "api-resources")
	for _, short := range []string{"po", "deploy", "rs", "svc", "cm", "ev", "ep", "sa", "leases", "endpointslices"} {
		if _, errOut, err := kubectl(t, "get", short, "-n", ns); err != nil {
			t.Errorf("kubectl get %s: %v: %s", short, err, errOut)
		}
	}
	for _, short := range []string{"no", "ns"} {
		if _, errOut, err := kubectl(t, "get", short); err != nil {
			t.Errorf("kubectl get %s: %v: %s", short, err, errOut)
		}
	}

	// kubectl api-resources --namespaced=false lists only cluster-scoped kinds.
	tb = parseTable(t, mustKubectl(t, "api-resources", "--namespaced=false"))
	for _, name := range tb.column("NAME") {
		if name == "pods" || name == "configmaps" {
			t.Errorf("api-resources --namespaced=false lists %s", name)
		}
	}
	if _, ok := tb.row("namespaces"); !ok {
		t.Errorf("api-resources --namespaced=false lacks namespaces: %q", tb.column("NAME"))
	}
}

// TestGetNamespacesAndKubernetesService: the bootstrap objects and their
// server-side table columns.
func TestGetNamespacesAndKubernetesService(t *testing.T) {
	t.Parallel()
	useShared(t)
	tb := parseTable(t, mustKubectl(t, "get", "ns"))
	wantHeader(t, tb, "NAME", "STATUS", "AGE")
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		wantRow(t, tb, ns, map[string]string{"STATUS": "Active"})
	}

	tb = parseTable(t, mustKubectl(t, "get", "svc", "kubernetes", "-n", "default"))
	wantHeader(t, tb, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE")
	wantRow(t, tb, "kubernetes", map[string]string{
		"TYPE": "ClusterIP", "CLUSTER-IP": "10.43.0.1", "EXTERNAL-IP": "<none>", "PORT(S)": "443/TCP",
	})

	tb = parseTable(t, mustKubectl(t, "get", "svc", "kubernetes", "-n", "default", "-o", "wide"))
	wantHeader(t, tb, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR")
	wantRow(t, tb, "kubernetes", map[string]string{"SELECTOR": "<none>"})

	// The kubernetes service is backed by endpoints naming this server: its
	// advertise address (which, as upstream, defaults to the host's address
	// when bound to loopback) and its secure port.
	out, errOut, err := kubectl(t, "get", "endpoints", "kubernetes", "-n", "default",
		"-o", "jsonpath={.subsets[0].addresses[0].ip} {.subsets[0].ports[0].port}")
	if err != nil {
		t.Errorf("endpoints default/kubernetes: %v: %s", err, errOut)
	} else if ip, port, _ := strings.Cut(out, " "); port != strconv.Itoa(shared.port) || ip == "" || strings.HasPrefix(ip, "127.") {
		t.Errorf("endpoints default/kubernetes = %q, want a non-loopback host address and port %d", out, shared.port)
	}
}
