package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestServices: the typed service generators and expose, ClusterIP and
// NodePort allocation as `kubectl get svc` shows them, and the allocation
// and immutability errors.
func TestServices(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "services")
	mustKubectl(t, "create", "deployment", "web", "--image=nginx", "-n", ns)
	if out := mustKubectl(t, "expose", "deploy", "web", "--port=80", "--target-port=8080", "-n", ns); strings.TrimSpace(out) != "service/web exposed" {
		t.Errorf("expose printed %q", out)
	}
	mustKubectl(t, "create", "service", "nodeport", "np", "--tcp=80:8080", "-n", ns)

	tb := parseTable(t, mustKubectl(t, "get", "svc", "-n", ns, "-o", "wide"))
	wantHeader(t, tb, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR")
	web := wantRow(t, tb, "web", map[string]string{"TYPE": "ClusterIP", "EXTERNAL-IP": "<none>", "PORT(S)": "80/TCP", "SELECTOR": "app=web"})
	np := wantRow(t, tb, "np", map[string]string{"TYPE": "NodePort", "SELECTOR": "app=np"})
	for _, row := range []map[string]string{web, np} {
		if row != nil && !strings.HasPrefix(row["CLUSTER-IP"], "10.43.") {
			t.Errorf("service %s CLUSTER-IP = %q, want one from 10.43.0.0/16", row["NAME"], row["CLUSTER-IP"])
		}
	}
	if np == nil {
		return
	}
	if !regexp.MustCompile(`^80:3\d{4}/TCP$`).MatchString(np["PORT(S)"]) {
		t.Errorf("NodePort PORT(S) = %q, want 80:3xxxx/TCP", np["PORT(S)"])
	}
	nodePort := jsonpath(t, "{.spec.ports[0].nodePort}", "svc", "np", "-n", ns)
	if np["PORT(S)"] != "80:"+nodePort+"/TCP" {
		t.Errorf("PORT(S) %q does not show nodePort %s", np["PORT(S)"], nodePort)
	}

	out := mustKubectl(t, "describe", "svc", "web", "-n", ns)
	wantMatches(t, "describe svc", out,
		`(?m)^Type:\s+ClusterIP$`, `(?m)^IP:\s+`+regexp.QuoteMeta(web["CLUSTER-IP"])+`$`,
		`(?m)^TargetPort:\s+8080/TCP$`, `(?m)^Selector:\s+app=web$`)

	for _, c := range []struct {
		what string
		args []string
		want string
	}{
		{"changing clusterIP", []string{"patch", "svc", "web", "-n", ns, "--type=merge", "-p", `{"spec":{"clusterIP":"10.43.9.9"}}`},
			`The Service "web" is invalid: spec.clusterIPs[0]: Invalid value:`},
		{"a taken nodePort", []string{"create", "service", "nodeport", "np2", "--tcp=80:8080", "--node-port=" + nodePort, "-n", ns},
			"provided port is already allocated"},
		{"a taken clusterIP", []string{"create", "service", "clusterip", "dup", "--clusterip=10.43.0.1", "--tcp=80", "-n", ns},
			"provided IP is already allocated"},
		{"a clusterIP out of range", []string{"create", "service", "clusterip", "out", "--clusterip=10.99.0.5", "--tcp=80", "-n", ns},
			"not in the valid range"},
	} {
		stdout, stderr, err := kubectl(t, c.args...)
		wantContains(t, c.what, wantFail(t, c.what, stdout, stderr, err), c.want)
	}
	if got := jsonpath(t, "{.spec.clusterIP}", "svc", "web", "-n", ns); got != web["CLUSTER-IP"] {
		t.Errorf("clusterIP changed to %q after a rejected patch", got)
	}

	// A headless service has no cluster IP.
	mustKubectl(t, "create", "service", "clusterip", "headless", "--clusterip=None", "--tcp=80", "-n", ns)
	wantRow(t, parseTable(t, mustKubectl(t, "get", "svc", "headless", "-n", ns)), "headless",
		map[string]string{"TYPE": "ClusterIP", "CLUSTER-IP": "None"})

	// Deleting a service frees its nodePort for reuse.
	mustKubectl(t, "delete", "svc", "np", "-n", ns)
	mustKubectl(t, "create", "service", "nodeport", "np3", "--tcp=80:8080", "--node-port="+nodePort, "-n", ns)
}
