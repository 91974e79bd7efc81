// Package benchsmoke is the benchmarks' regression guard for CI: it
// builds every program under bench/, runs each with -short (seconds, tiny
// counts) into a temporary directory, then renders the report from what
// they wrote. It fails only when a program fails, never on a number; the
// numbers go to the test log. Programs that need root (node, proxy) or
// containerd (node) are skipped with a message when the machine lacks them.
package benchsmoke

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// programs under bench/, with what each needs beyond the skiff binary.
var programs = []struct {
	name       string
	root       bool
	containerd bool
}{
	{name: "apiserver"},
	{name: "scheduler"},
	{name: "density"},
	{name: "lists"},
	{name: "dns"},
	{name: "etcd"},
	{name: "proxy", root: true},
	{name: "node", root: true, containerd: true},
}

func TestBenchmarksShort(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark smoke runs start servers; not in -short")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bins := t.TempDir()
	results := t.TempDir()
	skiff := os.Getenv("SKIFF_BIN")
	if skiff == "" {
		skiff = filepath.Join(bins, "skiff")
		build(t, repo, "-o", skiff, "./cmd/skiff")
	}
	args := []string{"-o", bins + string(filepath.Separator)}
	for _, p := range programs {
		args = append(args, "./bench/"+p.name)
	}
	build(t, repo, args...)

	t.Run("programs", func(t *testing.T) {
		for _, p := range programs {
			t.Run(p.name, func(t *testing.T) {
				if p.root && os.Geteuid() != 0 {
					t.Skipf("%s needs root", p.name)
				}
				if p.containerd {
					if _, err := exec.LookPath("containerd"); err != nil {
						t.Skipf("%s needs containerd", p.name)
					}
				}
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, filepath.Join(bins, p.name), "-short", "-bin", skiff, "-out", results)
				if p.name == "dns" || p.name == "proxy" || p.name == "etcd" {
					cmd.Args = []string{cmd.Path, "-short", "-out", results}
				}
				cmd.Dir = repo
				cmd.Env = append(os.Environ(), "SKIFF_BIN="+skiff)
				start := time.Now()
				out, err := cmd.CombinedOutput()
				t.Logf("%s -short (%v):\n%s", p.name, time.Since(start).Round(time.Millisecond), out)
				if err != nil {
					t.Fatalf("%s: %v", p.name, err)
				}
				if _, err := os.Stat(filepath.Join(results, p.name+".json")); err != nil {
					t.Fatalf("%s wrote no results: %v", p.name, err)
				}
			})
		}
	})

	cmd := exec.Command("go", "run", "./bench/report", "-results", results, "-out", results)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	md, err := os.ReadFile(filepath.Join(results, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("REPORT.md from the short runs:\n%s", md)
	data, err := os.ReadFile(filepath.Join(results, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		Areas map[string]struct {
			Commit  string         `json:"commit"`
			Machine map[string]any `json:"machine"`
			Results map[string]any `json:"results"`
		} `json:"areas"`
	}
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(results, "*.json"))
	if len(all.Areas) != len(files)-1 {
		t.Errorf("results.json has %d areas, from %d result files", len(all.Areas), len(files)-1)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if a, ok := all.Areas[name]; name != "results" && (!ok || len(a.Results) == 0 || a.Machine["cores"] == nil) {
			t.Errorf("results.json: area %s is %+v (present %v), want its results and machine", name, a, ok)
		}
	}
}

func build(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}
