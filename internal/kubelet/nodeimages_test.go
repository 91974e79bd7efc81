package kubelet

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/cri/fake"
)

func TestNodeImagesLargestFirstAtMost50(t *testing.T) {
	var refs []string
	sizes := map[string]uint64{}
	for i := range 55 {
		ref := fmt.Sprintf("example.com/img%02d:1", i)
		refs = append(refs, ref)
		sizes[ref] = uint64(1000 + i)
	}
	rt, err := fake.New(fake.Options{Images: refs, Preloaded: refs, ImageSizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	k := &Kubelet{images: rt}
	got := k.nodeImages(context.Background())
	if len(got) != maxNodeImages {
		t.Fatalf("%d images, want %d", len(got), maxNodeImages)
	}
	if got[0].SizeBytes != 1054 || got[49].SizeBytes != 1005 {
		t.Errorf("sizes from %d to %d, want 1054 down to 1005", got[0].SizeBytes, got[49].SizeBytes)
	}
	first := got[0].Names
	if len(first) != 2 || !strings.Contains(first[0], "@sha256:") || first[1] != "example.com/img54:1" {
		t.Errorf("names = %q, want the digest, then the tag", first)
	}
}
