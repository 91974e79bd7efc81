package kubelet

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/cri/fake"
	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

// relistChanges relists and returns the pods the relist says changed.
func relistChanges(t *testing.T, k *Kubelet, p *pleg) []string {
	t.Helper()
	if err := k.relist(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	var out []string
	for uid := range p.changed() {
		if !slices.Contains(out, string(uid)) {
			out = append(out, string(uid))
		}
	}
	p.swap()
	slices.Sort(out)
	return out
}

// The PLEG reports a pod when one of its sandboxes or containers is new,
// changes state or goes, and nothing when a relist finds the node as it
// was, however many relists in a row do.
func TestPLEGChanges(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	rt, err := fake.New(fake.Options{Preloaded: []string{"busybox"}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	k := &Kubelet{runtime: rt}
	p := newPLEG()
	start := func(uid types.UID, argv ...string) (sandbox, container string) {
		t.Helper()
		labels := map[string]string{kubetypes.PodUIDLabel: string(uid), kubetypes.PodNameLabel: "p-" + string(uid), kubetypes.PodNamespaceLabel: "default"}
		sb, err := rt.RunPodSandbox(ctx, &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "p-" + string(uid), Namespace: "default", Uid: string(uid)}, Labels: labels,
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		c, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
			Command: argv, Labels: labels,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.StartContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
		return sb, c
	}
	check := func(step string, want ...string) {
		t.Helper()
		if got := relistChanges(t, k, p); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: changed %v, want %v", step, got, want)
		}
	}
	check("empty node")
	start("a", "sleep", "infinity")
	sbB, _ := start("b", "sleep", "10")
	check("two pods started", "a", "b")
	check("relist of the same node")
	check("and again")
	clk.Step(11 * time.Second)
	check("b's container exited", "b")
	check("relist after the exit")
	start("c", "sleep", "infinity")
	check("a third pod", "c")
	if err := rt.RemovePodSandbox(ctx, sbB); err != nil {
		t.Fatal(err)
	}
	check("b removed", "b")
	check("relist after the removal")
	// Objects without a pod UID label are no pod's.
	if _, err := rt.RunPodSandbox(ctx, &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "stray", Namespace: "default", Uid: "stray"},
	}, ""); err != nil {
		t.Fatal(err)
	}
	check("a sandbox of no pod")
	check("relist with it")
}
