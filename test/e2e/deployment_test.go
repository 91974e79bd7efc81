package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestCreateDeployment: `kubectl create deployment` sends a protobuf body;
// get prints the deployment columns (wide adds containers, images and the
// selector) and describe works. No controllers run, so status is not
// asserted.
func TestCreateDeployment(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "create-deploy")
	out := mustKubectl(t, "create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", ns)
	if strings.TrimSpace(out) != "deployment.apps/web created" {
		t.Errorf("create deployment printed %q", out)
	}

	// The protobuf body was decoded completely.
	for expr, want := range map[string]string{
		"{.spec.replicas}":                                    "2",
		"{.spec.selector.matchLabels.app}":                    "web",
		"{.spec.template.metadata.labels.app}":                "web",
		"{.spec.template.spec.containers[0].name}":            "nginx",
		"{.spec.template.spec.containers[0].image}":           "nginx",
		"{.metadata.generation}":                              "1",
		"{.spec.strategy.type}":                               "RollingUpdate",
		"{.spec.strategy.rollingUpdate.maxSurge}":             "25%",
		"{.spec.revisionHistoryLimit}":                        "10",
		"{.spec.progressDeadlineSeconds}":                     "600",
		"{.spec.template.spec.restartPolicy}":                 "Always",
		"{.spec.template.spec.containers[0].imagePullPolicy}": "Always",
	} {
		if got := jsonpath(t, expr, "deploy", "web", "-n", ns); got != want {
			t.Errorf("deployment %s = %q, want %q", expr, got, want)
		}
	}

	tb := parseTable(t, mustKubectl(t, "get", "deploy", "-n", ns))
	wantHeader(t, tb, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
	if row := wantRow(t, tb, "web", nil); row != nil && !strings.HasSuffix(row["READY"], "/2") {
		t.Errorf("READY = %q, want <ready>/2", row["READY"])
	}

	tb = parseTable(t, mustKubectl(t, "get", "deploy", "-n", ns, "-o", "wide"))
	wantHeader(t, tb, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR")
	wantRow(t, tb, "web", map[string]string{"CONTAINERS": "nginx", "IMAGES": "nginx", "SELECTOR": "app=web"})

	// The same through the singular name and the short name.
	tb = parseTable(t, mustKubectl(t, "get", "deployment/web", "-n", ns))
	wantRow(t, tb, "web", nil)
	if got := strings.TrimSpace(mustKubectl(t, "get", "deploy", "-n", ns, "-o", "name")); got != "deployment.apps/web" {
		t.Errorf("get -o name = %q", got)
	}

	out = mustKubectl(t, "describe", "deploy", "web", "-n", ns)
	for _, re := range []string{
		`(?m)^Name:\s+web$`,
		`(?m)^Namespace:\s+` + regexp.QuoteMeta(ns) + `$`,
		`(?m)^Selector:\s+app=web$`,
		`(?m)^Replicas:\s+2 desired`,
		`(?m)^StrategyType:\s+RollingUpdate$`,
		`(?m)^\s+Image:\s+nginx$`,
		`(?m)^Labels:\s+app=web$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe deploy: no line matching %s in:\n%s", re, out)
		}
	}
}
