package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestRunPod: kubectl run creates a pod that stays Pending (no scheduler or
// node yet); get prints the pod columns and -o yaml shows the API defaults.
func TestRunPod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "run")
	if out := mustKubectl(t, "run", "p", "--image=busybox:1.36", "-n", ns); strings.TrimSpace(out) != "pod/p created" {
		t.Errorf("run printed %q", out)
	}

	tb := parseTable(t, mustKubectl(t, "get", "pods", "-n", ns))
	wantHeader(t, tb, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	wantRow(t, tb, "p", map[string]string{"READY": "0/1", "STATUS": "Pending", "RESTARTS": "0"})

	tb = parseTable(t, mustKubectl(t, "get", "pods", "-n", ns, "-o", "wide"))
	wantHeader(t, tb, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
	wantRow(t, tb, "p", map[string]string{"IP": "<none>", "NODE": "<none>", "NOMINATED NODE": "<none>", "READINESS GATES": "<none>"})

	out := mustKubectl(t, "get", "pod", "p", "-n", ns, "-o", "yaml")
	var pod corev1.Pod
	if err := yaml.Unmarshal([]byte(out), &pod); err != nil {
		t.Fatalf("get pod -o yaml: %v\n%s", err, out)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" {
		t.Errorf("kind/apiVersion = %q/%q", pod.Kind, pod.APIVersion)
	}
	if pod.Labels["run"] != "p" {
		t.Errorf("labels = %v, want run=p", pod.Labels)
	}
	if pod.UID == "" || pod.ResourceVersion == "" || pod.CreationTimestamp.IsZero() {
		t.Errorf("metadata lacks uid/resourceVersion/creationTimestamp: %+v", pod.ObjectMeta)
	}
	spec := pod.Spec
	for _, c := range []struct{ field, got, want string }{
		{"spec.restartPolicy", string(spec.RestartPolicy), "Always"},
		{"spec.dnsPolicy", string(spec.DNSPolicy), "ClusterFirst"},
		{"spec.schedulerName", spec.SchedulerName, "default-scheduler"},
		{"status.phase", string(pod.Status.Phase), "Pending"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds != 30 {
		t.Errorf("spec.terminationGracePeriodSeconds = %v, want 30", spec.TerminationGracePeriodSeconds)
	}
	if spec.SecurityContext == nil {
		t.Errorf("spec.securityContext not defaulted to {}")
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("containers = %+v", spec.Containers)
	}
	c := spec.Containers[0]
	for _, f := range []struct{ field, got, want string }{
		{"name", c.Name, "p"},
		{"image", c.Image, "busybox:1.36"},
		{"imagePullPolicy", string(c.ImagePullPolicy), "IfNotPresent"},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", string(c.TerminationMessagePolicy), "File"},
	} {
		if f.got != f.want {
			t.Errorf("containers[0].%s = %q, want %q", f.field, f.got, f.want)
		}
	}

	// describe pod reads the pod and its events.
	out = mustKubectl(t, "describe", "pod", "p", "-n", ns)
	wantContains(t, "describe pod", out, "Name:", "busybox:1.36", "Status:", "Pending")
}
