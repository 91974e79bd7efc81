package e2e

import "testing"

// TestExplain: kubectl explain renders field documentation from the
// OpenAPI v3 documents, so they must carry complete schemas and
// descriptions.
func TestExplain(t *testing.T) {
	t.Parallel()
	useShared(t)

	out := mustKubectl(t, "explain", "pod.spec")
	wantMatches(t, "explain pod.spec", out,
		`(?m)^KIND:\s+Pod$`,
		`(?m)^VERSION:\s+v1$`,
		`(?m)^FIELD: spec <PodSpec>$`,
		`(?m)^DESCRIPTION:$`,
		`Specification of the desired behavior of the pod`,
		`(?m)^FIELDS:$`,
		`(?m)^\s+containers\s+<\[\]Container> -required-$`,
		`(?m)^\s+restartPolicy\s+<string>$`,
		`(?m)^\s+nodeSelector\s+<map\[string\]string>$`,
		`(?m)^\s+terminationGracePeriodSeconds\s+<integer>$`,
		`(?m)^\s+hostNetwork\s+<boolean>$`,
		`(?m)^\s+volumes\s+<\[\]Volume>$`,
	)

	out = mustKubectl(t, "explain", "deployment.spec.strategy")
	wantMatches(t, "explain deployment.spec.strategy", out,
		`(?m)^GROUP:\s+apps$`,
		`(?m)^KIND:\s+Deployment$`,
		`(?m)^VERSION:\s+v1$`,
		`(?m)^FIELD: strategy <DeploymentStrategy>$`,
		`(?m)^\s+rollingUpdate\s+<RollingUpdateDeployment>$`,
		`(?m)^\s+type\s+<string>$`,
	)

	out = mustKubectl(t, "explain", "configmap")
	wantMatches(t, "explain configmap", out,
		`(?m)^KIND:\s+ConfigMap$`,
		`ConfigMap holds configuration data for pods to consume`,
		`(?m)^\s+data\s+<map\[string\]string>$`,
		`(?m)^\s+metadata\s+<ObjectMeta>$`,
	)

	// A nested path through a list and a map of structs.
	out = mustKubectl(t, "explain", "pod.spec.containers.resources.limits")
	wantMatches(t, "explain pod.spec.containers.resources.limits", out,
		`(?m)^FIELD: limits <map\[string\]Quantity>$`)

	out = mustKubectl(t, "explain", "svc.spec.ports", "--recursive")
	wantMatches(t, "explain svc.spec.ports --recursive", out,
		`(?m)^\s+port\s+<integer> -required-$`,
		`(?m)^\s+targetPort\s+<IntOrString>$`,
	)
}
