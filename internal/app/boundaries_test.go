package app

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps DESIGN.md's rule: the components that act on
// the cluster (scheduler, controllers, kubelet, proxy, DNS) see it only
// through client-go, never through the API server's or storage's
// internals.
func TestImportBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	var components []string
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasSuffix(pkg, "test") {
			continue // test helpers may start an in-process API server
		}
		for _, c := range []string{"/internal/scheduler", "/internal/controller", "/internal/kubelet", "/internal/proxy", "/internal/dns"} {
			if strings.Contains(pkg, "github.com/skiff-sh/skiff"+c) {
				components = append(components, pkg)
			}
		}
	}
	forbidden := []string{"github.com/skiff-sh/skiff/internal/storage", "github.com/skiff-sh/skiff/internal/apiserver"}
	for _, pkg := range components {
		deps, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, d := range strings.Fields(string(deps)) {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s imports %s: components talk to the cluster through client-go only", pkg, d)
				}
			}
		}
	}
}
