package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// restartReadyWithin is how soon a restarted server must answer /readyz.
const restartReadyWithin = 5 * time.Second

// TestRestart: a server stopped with SIGTERM and started again on the same
// data dir keeps its objects, certificates and kubeconfig, and serves
// kubectl again within seconds.
func TestRestart(t *testing.T) {
	t.Parallel()
	s := startTestServer(t)
	ns := "e2e-restart"
	s.mustKubectl(t, "create", "namespace", ns)
	s.mustKubectl(t, "create", "configmap", "keep", "--from-literal=a=b", "-n", ns)
	s.mustKubectl(t, "create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)
	uid := s.mustKubectl(t, "get", "cm", "keep", "-n", ns, "-o", "jsonpath={.metadata.uid}")
	rv := s.mustKubectl(t, "get", "cm", "keep", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}")

	kubeconfig := readFile(t, s.kubeconfig())
	credentials := map[string][]byte{}
	for _, p := range credentialFiles(t, s.dataDir) {
		credentials[p] = readFile(t, p)
	}
	if len(credentials) == 0 {
		t.Errorf("no certificate or key files (*.crt, *.key, *.pem) under %s", s.dataDir)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM shutdown: %v\nlog:\n%s", err, s.logTail(40))
	}
	start := time.Now()
	if err := s.start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	ready := time.Since(start)
	out, errOut, err := s.kubectl(t, "get", "cm", "keep", "-n", ns, "-o", "jsonpath={.metadata.uid} {.metadata.resourceVersion} {.data.a}")
	served := time.Since(start)
	t.Logf("restart: ready after %v, first kubectl get answered after %v", ready.Round(time.Millisecond), served.Round(time.Millisecond))
	if err != nil {
		t.Fatalf("kubectl get after restart: %v: %s", err, errOut)
	}
	if want := uid + " " + rv + " b"; out != want {
		t.Errorf("configmap after restart = %q, want %q (same uid, resourceVersion, data)", out, want)
	}
	if ready > restartReadyWithin {
		t.Errorf("restarted server took %v to be ready, want under %v", ready, restartReadyWithin)
	}

	if !bytes.Equal(readFile(t, s.kubeconfig()), kubeconfig) {
		t.Errorf("admin.kubeconfig was rewritten on restart")
	}
	for p, before := range credentials {
		if !bytes.Equal(readFile(t, p), before) {
			t.Errorf("%s changed on restart", p)
		}
	}

	tb := parseTable(t, s.mustKubectl(t, "get", "deploy", "-n", ns, "-o", "wide"))
	wantRow(t, tb, "web", map[string]string{"IMAGES": "nginx", "SELECTOR": "app=web"})
	if got := s.mustKubectl(t, "get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}"); got != "3" {
		t.Errorf("deployment replicas after restart = %q, want 3", got)
	}
	tb = parseTable(t, s.mustKubectl(t, "get", "ns"))
	wantRow(t, tb, ns, map[string]string{"STATUS": "Active"})
	wantRow(t, tb, "default", map[string]string{"STATUS": "Active"})
	tb = parseTable(t, s.mustKubectl(t, "get", "svc", "kubernetes", "-n", "default"))
	wantRow(t, tb, "kubernetes", map[string]string{"CLUSTER-IP": "10.43.0.1"})

	// Writes continue with newer resource versions.
	s.mustKubectl(t, "create", "configmap", "after", "-n", ns)
	rv2 := s.mustKubectl(t, "get", "cm", "after", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}")
	if !newerRV(rv2, rv) {
		t.Errorf("resourceVersion after restart %s is not newer than %s", rv2, rv)
	}
}

// TestQuietLifecycle: a normal start, a request and a clean shutdown log
// nothing at ERROR level (the server runs with --log-level warn, so every
// line it prints is one an operator will read).
func TestQuietLifecycle(t *testing.T) {
	t.Parallel()
	s := startTestServer(t)
	s.mustKubectl(t, "get", "ns")
	if err := s.stop(); err != nil {
		t.Fatalf("SIGTERM shutdown: %v", err)
	}
	b := readFile(t, s.logPath)
	var errorLines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, " ERROR ") || strings.Contains(l, "level=ERROR") {
			errorLines = append(errorLines, l)
		}
	}
	if len(errorLines) > 0 {
		t.Errorf("start + clean shutdown logged %d ERROR lines:\n%s", len(errorLines), strings.Join(errorLines, "\n"))
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// credentialFiles lists certificate and key files under dir, outside the
// etcd data.
func credentialFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.Contains(d.Name(), "etcd") {
			return filepath.SkipDir
		}
		switch filepath.Ext(p) {
		case ".crt", ".key", ".pem":
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newerRV compares resource versions as the decimal etcd revisions skiff
// uses.
func newerRV(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}
