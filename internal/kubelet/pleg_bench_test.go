package kubelet

import (
	"context"
	"fmt"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/cri/fake"
	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

// BenchmarkRelist is one PLEG relist of a node running 30 pods on the
// fake runtime: what every hollow node does every second.
func BenchmarkRelist(b *testing.B) {
	ctx := context.Background()
	rt, err := fake.New(fake.Options{Preloaded: []string{"busybox"}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 30 {
		uid := fmt.Sprintf("0f8e4c1a-5d2b-4e7a-9c3f-%012d", i)
		labels := map[string]string{kubetypes.PodUIDLabel: uid, kubetypes.PodNameLabel: fmt.Sprintf("pod-%d", i), kubetypes.PodNamespaceLabel: "default"}
		sb, err := rt.RunPodSandbox(ctx, &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("pod-%d", i), Namespace: "default", Uid: uid},
			Labels:   labels,
		}, "")
		if err != nil {
			b.Fatal(err)
		}
		c, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
			Image:    &runtimeapi.ImageSpec{Image: "busybox"},
			Command:  []string{"sleep", "3600"},
			Labels:   labels,
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := rt.StartContainer(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	k := &Kubelet{runtime: rt}
	p := newPLEG()
	b.ReportAllocs()
	for b.Loop() {
		if err := k.relist(ctx, p); err != nil {
			b.Fatal(err)
		}
		p.swap()
	}
}
