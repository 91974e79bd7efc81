package plugins

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

var update = flag.Bool("update", false, "rewrite the want: sections of testdata/*.yaml")

// goldenCase is one testdata file: a cluster (nodes, and pods already on
// them by spec.nodeName; namespaces, optional, for namespaceSelectors)
// and pods each scheduled on their own against it. The want: block, which
// must come last, is the rendered decisions.
type goldenCase struct {
	Namespaces []corev1.Namespace `json:"namespaces"`
	Nodes      []corev1.Node      `json:"nodes"`
	Pods       []corev1.Pod       `json:"pods"`
	Schedule   []corev1.Pod       `json:"schedule"`
	Want       string             `json:"want"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := yaml.UnmarshalStrict(data, &c); err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := renderCase(&c)
			if *update {
				i := bytes.Index(data, []byte("\nwant:"))
				if i < 0 {
					i = len(bytes.TrimRight(data, "\n"))
				}
				out := append(data[:i:i], "\nwant: |\n"...)
				for _, line := range strings.SplitAfter(strings.TrimRight(got, "\n"), "\n") {
					out = append(out, "  "+line...)
				}
				out = append(out, '\n')
				if err := os.WriteFile(file, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.TrimSpace(got) != strings.TrimSpace(c.Want) {
				t.Errorf("decisions differ (rerun with -update to accept)\n--- got\n%s\n--- want\n%s", got, c.Want)
			}
		})
	}
}

// renderCase schedules each pod and prints the result and every node's
// verdict: the failing plugin and reasons, or the scores.
func renderCase(c *goldenCase) string {
	nodes := make([]*corev1.Node, len(c.Nodes))
	for i := range c.Nodes {
		nodes[i] = &c.Nodes[i]
	}
	pods := make([]*corev1.Pod, len(c.Pods))
	for i := range c.Pods {
		pods[i] = &c.Pods[i]
	}
	snap := framework.NewSnapshot(nodes, pods)
	if len(c.Namespaces) > 0 {
		snap.Namespaces = map[string]labels.Set{}
		for _, ns := range c.Namespaces {
			snap.Namespaces[ns.Name] = ns.Labels
		}
	}
	f := Default()
	var b strings.Builder
	for i := range c.Schedule {
		pod := &c.Schedule[i]
		node, d := f.Schedule(pod, snap)
		fmt.Fprintf(&b, "%s:\n", pod.Name)
		if node == "" {
			fmt.Fprintf(&b, "  unschedulable: %s\n", d.Message())
		} else {
			fmt.Fprintf(&b, "  node: %s\n", node)
		}
		scores := map[string]framework.NodeScore{}
		for _, s := range d.Scores {
			scores[s.Node] = s
		}
		names := make([]string, 0, len(snap.Nodes))
		for _, n := range snap.Nodes {
			names = append(names, n.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			if st := d.Failed[n]; st != nil {
				fmt.Fprintf(&b, "  %s: %s: %s\n", n, st.Plugin, strings.Join(st.Reasons, "; "))
				continue
			}
			s, ok := scores[n]
			if !ok {
				fmt.Fprintf(&b, "  %s: fits\n", n)
				continue
			}
			parts := make([]string, len(f.Scores))
			for j, ws := range f.Scores {
				parts[j] = fmt.Sprintf("%s=%d", ws.Plugin.Name(), s.ByPlugin[j])
			}
			fmt.Fprintf(&b, "  %s: %d (%s)\n", n, s.Total, strings.Join(parts, " "))
		}
	}
	return b.String()
}
