package fake

import (
	"context"
	"fmt"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

func sandboxIDs(t *testing.T, r *Runtime, f *runtimeapi.PodSandboxFilter) []string {
	t.Helper()
	sbs, err := r.ListPodSandbox(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sb := range sbs {
		ids = append(ids, sb.Id)
	}
	return ids
}

func containerStates(t *testing.T, r *Runtime, f *runtimeapi.ContainerFilter) map[string]runtimeapi.ContainerState {
	t.Helper()
	cs, err := r.ListContainers(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]runtimeapi.ContainerState{}
	for _, c := range cs {
		out[c.Id] = c.State
	}
	return out
}

// Lists come oldest first, in creation order when the clock has not moved,
// and forget what was removed.
func TestListsInCreationOrder(t *testing.T) {
	r, clk := newTestRuntime(t)
	ctx := context.Background()
	var want []string
	for i := range 6 {
		if i == 3 {
			clk.Step(time.Second)
		}
		id, err := r.RunPodSandbox(ctx, sandboxConfig(fmt.Sprintf("u%d", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	if got := sandboxIDs(t, r, nil); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sandboxes %v, want %v", got, want)
	}
	c1 := runContainer(t, r, want[1], "a", "sleep", "3600")
	c4 := runContainer(t, r, want[4], "b", "sleep", "3600")
	if err := r.RemovePodSandbox(ctx, want[1]); err != nil {
		t.Fatal(err)
	}
	want = append(want[:1], want[2:]...)
	if got := sandboxIDs(t, r, nil); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after removing one: sandboxes %v, want %v", got, want)
	}
	if got := containerStates(t, r, nil); len(got) != 1 || got[c4] != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("containers %v, want only %s (its sandbox's container %s removed with it)", got, c4, c1)
	}
	if got := sandboxIDs(t, r, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"io.kubernetes.pod.uid": "u4"}}); len(got) != 1 || got[0] != want[3] {
		t.Fatalf("filtered by label: %v, want [%s]", got, want[3])
	}
}

// A list's entries are the runtime's, replaced and never changed when the
// state changes: an entry taken before keeps what it said.
func TestListEntriesAreReplacedNotChanged(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	sb, err := r.RunPodSandbox(ctx, sandboxConfig("u1"), "")
	if err != nil {
		t.Fatal(err)
	}
	id := runContainer(t, r, sb, "a", "sleep", "3600")
	beforeSB, _ := r.ListPodSandbox(ctx, nil)
	beforeC, _ := r.ListContainers(ctx, nil)
	if err := r.StopPodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if beforeSB[0].State != runtimeapi.PodSandboxState_SANDBOX_READY || beforeC[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("entries listed before the stop changed: sandbox %v, container %v", beforeSB[0].State, beforeC[0].State)
	}
	afterSB, _ := r.ListPodSandbox(ctx, nil)
	if afterSB[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("sandbox listed after the stop: %v, want NOTREADY", afterSB[0].State)
	}
	if got := containerStates(t, r, nil)[id]; got != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("container listed after the stop: %v, want EXITED", got)
	}
}

// A container whose time is up lists as exited with no other call made,
// and a filter on state sees it so.
func TestListSeesTimedExits(t *testing.T) {
	r, clk := newTestRuntime(t)
	sb, err := r.RunPodSandbox(context.Background(), sandboxConfig("u1"), "")
	if err != nil {
		t.Fatal(err)
	}
	short := runContainer(t, r, sb, "short", "sleep", "5")
	long := runContainer(t, r, sb, "long", "sleep", "60")
	forever := runContainer(t, r, sb, "forever", "sleep", "infinity")
	running := &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
	if got := containerStates(t, r, running); len(got) != 3 {
		t.Fatalf("running at start: %v, want all three", got)
	}
	clk.Step(6 * time.Second)
	got := containerStates(t, r, nil)
	if got[short] != runtimeapi.ContainerState_CONTAINER_EXITED || got[long] != runtimeapi.ContainerState_CONTAINER_RUNNING ||
		got[forever] != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after 6 s: %v, want %s exited and the others running", got, short)
	}
	clk.Step(time.Minute)
	if got := containerStates(t, r, running); len(got) != 1 || got[forever] != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("running after 66 s: %v, want only %s", got, forever)
	}
	if st := containerStatus(t, r, long); st.ExitCode != 0 || st.Reason != "Completed" {
		t.Fatalf("%s: exit %d %q, want 0 Completed", long, st.ExitCode, st.Reason)
	}
}

// BenchmarkListByPod is what a kubelet's pod sync asks of a node running
// 30 pods: its pod's sandboxes and containers, by the pod UID label.
func BenchmarkListByPod(b *testing.B) {
	r, err := New(Options{Preloaded: []string{"busybox"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 30 {
		sb, err := r.RunPodSandbox(ctx, sandboxConfig(fmt.Sprintf("u%d", i)), "")
		if err != nil {
			b.Fatal(err)
		}
		id, err := r.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
			Labels: map[string]string{"io.kubernetes.pod.uid": fmt.Sprintf("u%d", i)},
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.StartContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	sel := map[string]string{"io.kubernetes.pod.uid": "u17"}
	b.ReportAllocs()
	for b.Loop() {
		sbs, _ := r.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
		cs, _ := r.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
		if len(sbs) != 1 || len(cs) != 1 {
			b.Fatalf("%d sandboxes, %d containers; want 1 each", len(sbs), len(cs))
		}
	}
}

// Lists by a pod's UID label come from the index of pods: the pod's
// objects, in creation order, still through every other filter; the
// index forgets a pod once nothing of it is left.
func TestListsByPodUID(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	var sbs []string
	for _, uid := range []string{"u1", "u2"} {
		sb, err := r.RunPodSandbox(ctx, sandboxConfig(uid), "")
		if err != nil {
			t.Fatal(err)
		}
		sbs = append(sbs, sb)
	}
	if _, err := r.PullImage(ctx, &runtimeapi.ImageSpec{Image: "busybox"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	var ctrs []string
	for _, c := range []struct{ sandbox, uid, name string }{{sbs[0], "u1", "a"}, {sbs[1], "u2", "b"}, {sbs[1], "u2", "c"}} {
		id, err := r.CreateContainer(ctx, c.sandbox, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: c.name}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
			Labels: map[string]string{kubetypes.PodUIDLabel: c.uid, "name": c.name},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctrs = append(ctrs, id)
	}
	byUID := func(uid string, more ...string) map[string]string {
		sel := map[string]string{kubetypes.PodUIDLabel: uid}
		for i := 0; i+1 < len(more); i += 2 {
			sel[more[i]] = more[i+1]
		}
		return sel
	}
	if got := sandboxIDs(t, r, &runtimeapi.PodSandboxFilter{LabelSelector: byUID("u2")}); fmt.Sprint(got) != fmt.Sprint(sbs[1:]) {
		t.Fatalf("sandboxes of u2: %v, want %v", got, sbs[1:])
	}
	cs, err := r.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: byUID("u2")})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Id != ctrs[1] || cs[1].Id != ctrs[2] {
		t.Fatalf("containers of u2: %v, want %v in order", cs, ctrs[1:])
	}
	if got := containerStates(t, r, &runtimeapi.ContainerFilter{LabelSelector: byUID("u2", "name", "c")}); len(got) != 1 {
		t.Fatalf("containers of u2 named c: %v, want only %s", got, ctrs[2])
	} else if !has(got, ctrs[2]) {
		t.Fatalf("containers of u2 named c: %v, want %s", got, ctrs[2])
	}
	if got := containerStates(t, r, &runtimeapi.ContainerFilter{LabelSelector: byUID("u1", "name", "c")}); len(got) != 0 {
		t.Fatalf("containers of u1 named c: %v, want none", got)
	}
	if got := sandboxIDs(t, r, &runtimeapi.PodSandboxFilter{LabelSelector: byUID("nobody")}); len(got) != 0 {
		t.Fatalf("sandboxes of an unknown pod: %v", got)
	}
	if err := r.RemoveContainer(ctx, ctrs[1]); err != nil {
		t.Fatal(err)
	}
	if got := containerStates(t, r, &runtimeapi.ContainerFilter{LabelSelector: byUID("u2")}); len(got) != 1 || !has(got, ctrs[2]) {
		t.Fatalf("containers of u2 after removing one: %v, want only %s", got, ctrs[2])
	}
	for _, sb := range sbs {
		if err := r.RemovePodSandbox(ctx, sb); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.byPod) != 0 {
		t.Fatalf("index after removing every pod: %d entries left", len(r.byPod))
	}
}

func has[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
