package scheduler

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins"
)

var update = flag.Bool("update", false, "rewrite the want: sections of testdata/preemption/*.yaml")

// preemptionNow is the clock of every case: pods without status.startTime
// started now.
var preemptionNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// preemptionCase is one testdata/preemption file: nodes, the pods on them
// (spec.nodeName), pending pods nominated to nodes
// (status.nominatedNodeName), and preemptors, each decided on its own
// against that cluster with the default profile. The want: block, which
// must come last, is the rendered decisions.
type preemptionCase struct {
	Nodes      []corev1.Node `json:"nodes"`
	Pods       []corev1.Pod  `json:"pods"`
	Nominated  []corev1.Pod  `json:"nominated"`
	Preemptors []corev1.Pod  `json:"preemptors"`
	Want       string        `json:"want"`
}

func TestPreemptionGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/preemption/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c preemptionCase
			if err := yaml.UnmarshalStrict(data, &c); err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := renderPreemption(&c)
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
			if got != c.Want {
				t.Errorf("%s: decisions differ (run with -update and review the diff)\n--- got\n%s--- want\n%s", file, got, c.Want)
			}
		})
	}
}

// renderPreemption decides each preemptor as scheduleOne does, without
// the API: the snapshot with nominated pods, the nominated node first,
// then the whole cluster, then preemption. One line per preemptor.
func renderPreemption(c *preemptionCase) string {
	var nodes []*corev1.Node
	for i := range c.Nodes {
		nodes = append(nodes, &c.Nodes[i])
	}
	var pods []*corev1.Pod
	for i := range c.Pods {
		withUID(&c.Pods[i])
		pods = append(pods, &c.Pods[i])
	}
	nom := newNominator()
	for i := range c.Nominated {
		p := withUID(&c.Nominated[i])
		nom.Update(nil, p)
	}
	f := plugins.Default()
	f.Parallelism = 1
	var b strings.Builder
	for i := range c.Preemptors {
		pod := withUID(&c.Preemptors[i])
		pi := framework.NewPodInfo(pod)
		snap := nom.WithNominated(framework.NewSnapshot(nodes, pods), pod)
		if n := pod.Status.NominatedNodeName; n != "" {
			if j := snap.Index(n); j >= 0 && filterNode(f.ForCycle(pi, snap), pi, snap.Nodes[j]) == nil {
				fmt.Fprintf(&b, "%s: fits nominated node %s\n", pod.Name, n)
				continue
			}
		}
		node, diag, _ := f.ScheduleFrom(pi, snap, 0)
		if node != "" {
			fmt.Fprintf(&b, "%s: fits %s\n", pod.Name, node)
			continue
		}
		plan, msg := planPreemption(f, pi, snap, diag, pod.Status.NominatedNodeName, 0, preemptionNow)
		if plan == nil {
			fmt.Fprintf(&b, "%s: %s%s\n", pod.Name, diag.Message(), preemptionMessage(msg))
			continue
		}
		var victims []string
		for _, v := range plan.Victims {
			victims = append(victims, v.Name)
		}
		fmt.Fprintf(&b, "%s: preempts on %s: %s\n", pod.Name, plan.Node, strings.Join(victims, ", "))
	}
	return b.String()
}

// withUID gives a test pod its name as UID and the default namespace.
func withUID(p *corev1.Pod) *corev1.Pod {
	if p.UID == "" {
		p.UID = types.UID(p.Name)
	}
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	return p
}

func TestPickCandidateOrder(t *testing.T) {
	started := func(name string, prio int32, ago time.Duration) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Priority: &prio}}
		if ago >= 0 {
			p.Status.StartTime = &metav1.Time{Time: preemptionNow.Add(-ago)}
		}
		return p
	}
	cand := func(node string, victims ...*corev1.Pod) candidate { return candidate{node: node, victims: victims} }
	cases := []struct {
		name string
		cs   []candidate
		want string
	}{
		{"no victims needed", []candidate{cand("a", started("x", 1, 0)), cand("b")}, "b"},
		{"lowest top priority", []candidate{cand("a", started("x", 5, 0)), cand("b", started("y", 3, 0), started("z", 3, 0))}, "b"},
		{"smallest sum", []candidate{cand("a", started("x", 5, 0), started("y", 4, 0)), cand("b", started("z", 5, 0), started("w", 1, 0))}, "b"},
		{"negative priorities sum by count first", []candidate{
			cand("a", started("x", -5, 0), started("y", -5, 0)),
			cand("b", started("z", -5, 0))}, "b"},
		{"fewest victims", []candidate{
			cand("a", started("x", 2, 0), started("y", 1, 0), started("v", 0, 0)),
			cand("b", started("z", 2, 0), started("w", 1, 0))}, "b"},
		{"latest started top victim", []candidate{
			cand("a", started("x", 2, time.Hour)),
			cand("b", started("y", 2, time.Minute))}, "b"},
		{"not started counts as now", []candidate{
			cand("a", started("x", 2, time.Minute)),
			cand("b", started("y", 2, -1))}, "b"},
		{"ties go to the first", []candidate{cand("a", started("x", 2, 0)), cand("b", started("y", 2, 0))}, "a"},
	}
	for _, tc := range cases {
		if got := pickCandidate(tc.cs, preemptionNow); got.node != tc.want {
			t.Errorf("%s: picked %s, want %s", tc.name, got.node, tc.want)
		}
	}
}

func TestNominatorFollowsStatus(t *testing.T) {
	prio := int32(10)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "p"}, Spec: corev1.PodSpec{Priority: &prio}}
	n := newNominator()
	n.Nominate(pod, "n1")
	// An update that predates the status write keeps the nomination.
	n.Update(pod, pod.DeepCopy())
	if got := n.NodeOf("p"); got != "n1" {
		t.Fatalf("nomination lost on an unrelated update: %q", got)
	}
	published := pod.DeepCopy()
	published.Status.NominatedNodeName = "n2"
	n.Update(pod, published)
	if got := n.NodeOf("p"); got != "n2" || len(n.OnNode("n1")) != 0 || len(n.OnNode("n2")) != 1 {
		t.Fatalf("moved nomination: %q", got)
	}
	cleared := published.DeepCopy()
	cleared.Status.NominatedNodeName = ""
	n.Update(published, cleared)
	if got := n.NodeOf("p"); got != "" {
		t.Fatalf("cleared nomination stays: %q", got)
	}
	n.Nominate(pod, "n1")
	n.Forget("p")
	if n.NodeOf("p") != "" || len(n.byNode) != 0 {
		t.Fatalf("forget left %v", n.byNode)
	}
}
