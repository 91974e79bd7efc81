package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Node tests of what a pod spec gives a container: configuration from
// configMaps and secrets, and enforced resource limits.

// TestNodeConfigMapAndSecret: configMaps and secrets as files and as
// environment variables (valueFrom and envFrom); an update of a mounted
// configMap reaches the file.
func TestNodeConfigMapAndSecret(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "config")
	n.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: env-cm}
data: {GREETING: hello, COLOR: blue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: files-cm}
data: {app.conf: "version=1\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {PASSWORD: s3cret, TOKEN: tok-123}
---
apiVersion: v1
kind: Pod
metadata: {name: consumer}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + busyboxImage + `
    command: [sleep, "3600"]
    env:
    - {name: MY_GREETING, valueFrom: {configMapKeyRef: {name: env-cm, key: GREETING}}}
    - {name: MY_TOKEN, valueFrom: {secretKeyRef: {name: creds, key: TOKEN}}}
    envFrom:
    - configMapRef: {name: env-cm}
    - {prefix: SECRET_, secretRef: {name: creds}}
    volumeMounts:
    - {name: files, mountPath: /etc/files}
    - {name: creds, mountPath: /etc/creds, readOnly: true}
  volumes:
  - {name: files, configMap: {name: files-cm}}
  - {name: creds, secret: {secretName: creds}}
`)
	n.waitReady("consumer", podStartTimeout)
	env := n.k("exec", "consumer", "--", "env")
	for _, kv := range []string{"MY_GREETING=hello", "MY_TOKEN=tok-123", "GREETING=hello", "COLOR=blue",
		"SECRET_PASSWORD=s3cret", "SECRET_TOKEN=tok-123"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(kv) + `$`).MatchString(env) {
			t.Errorf("env of the container lacks %s:\n%s", kv, env)
		}
	}
	if got := n.k("exec", "consumer", "--", "cat", "/etc/files/app.conf"); got != "version=1\n" {
		t.Errorf("/etc/files/app.conf = %q, want %q", got, "version=1\n")
	}
	if got := n.k("exec", "consumer", "--", "cat", "/etc/creds/PASSWORD", "/etc/creds/TOKEN"); got != "s3crettok-123" {
		t.Errorf("/etc/creds/PASSWORD and TOKEN = %q, want %q", got, "s3crettok-123")
	}
	if out, _, err := n.kubectl("exec", "consumer", "--", "sh", "-c", "echo x > /etc/creds/new"); err == nil {
		t.Errorf("writing into the read-only secret volume succeeded: %q", out)
	}

	n.k("patch", "configmap", "files-cm", "--type=merge", "-p", `{"data":{"app.conf":"version=2\n"}}`)
	updated := time.Now()
	deadline := updated.Add(75 * time.Second)
	for {
		got, _, err := n.kubectl("exec", "consumer", "--", "cat", "/etc/files/app.conf")
		if err == nil && got == "version=2\n" {
			t.Logf("the mounted configMap changed %v after the update", time.Since(updated).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/etc/files/app.conf = %q (err %v) 75s after the configMap changed, want %q", got, err, "version=2\n")
		}
		time.Sleep(2 * time.Second)
	}
}

// TestNodeMemoryLimit: a container that allocates past its memory limit
// is OOM-killed; the same program within the limit completes.
func TestNodeMemoryLimit(t *testing.T) {
	t.Parallel()
	n := newNodeTest(t, "memory")
	// tail keeps the last lines of its input in memory; /dev/zero has no
	// newline, so tail holds all of it (the control pod shows it prints
	// every byte back). sh exits with tail's status: 137 when the kernel
	// kills it.
	pod := func(name, command string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + busyboxImage + `
    command: [sh, -c, '` + command + `']
    resources: {limits: {memory: 32Mi}}
---
`
	}
	n.apply(pod("hog", "head -c 200m /dev/zero | tail") + pod("fits", "head -c 1m /dev/zero | tail | wc -c") + `apiVersion: v1
kind: Pod
metadata: {name: idle}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + busyboxImage + `
    command: [sleep, "3600"]
    resources: {limits: {memory: 32Mi}}
`)
	terminated := func(p *corev1.Pod) bool {
		c := containerStatus(p, "main")
		return c != nil && c.State.Terminated != nil
	}
	p := n.waitPod("hog", podStartTimeout, "terminated", terminated)
	if term := containerStatus(p, "main").State.Terminated; term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("hog (200m in 32Mi) ended %s, want OOMKilled with exit code 137", stateString(containerStatus(p, "main").State))
	}
	tb := parseTable(t, n.k("get", "pod", "hog"))
	wantRow(t, tb, "hog", map[string]string{"STATUS": "OOMKilled"})

	p = n.waitPod("fits", podStartTimeout, "terminated", terminated)
	if term := containerStatus(p, "main").State.Terminated; term.Reason != "Completed" || term.ExitCode != 0 {
		t.Errorf("fits (1m in 32Mi) ended %s, want Completed with exit code 0", stateString(containerStatus(p, "main").State))
	}
	if got := strings.TrimSpace(n.k("logs", "fits")); got != "1048576" {
		t.Errorf("fits printed %q, want 1048576 (tail passes on all it held)", got)
	}

	n.waitReady("idle", podStartTimeout)
	if got := strings.TrimSpace(n.k("exec", "idle", "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")); got != "33554432" {
		t.Errorf("the container's memory cgroup limit = %q, want 33554432 (32Mi)", got)
	}
}
