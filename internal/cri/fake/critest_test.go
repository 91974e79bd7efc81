package fake_test

import (
	"testing"

	"github.com/skiff-sh/skiff/internal/cri/critest"
	"github.com/skiff-sh/skiff/internal/cri/fake"
)

// TestConformance runs the CRI behaviour suite that containerd passes
// against the fake.
func TestConformance(t *testing.T) {
	rt, err := fake.New(fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	critest.Run(t, rt, rt, critest.Options{Image: "busybox:1.36", MissingImage: "busybox:does-not-exist"})
}
