package kubelet

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/cri/fake"
)

const gib = 1 << 30

// gcFixture is an image GC over a fake runtime whose image filesystem
// holds the images below, with a fake clock starting at t0.
type gcFixture struct {
	t        *testing.T
	rt       *fake.Runtime
	gc       *imageGC
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
}

// Images of the fixture: pause (the sandbox image), pinned, in use (a
// container of it exists), four old ones and one pulled late.
var gcImages = map[string]uint64{
	DefaultPodSandboxImage: 10 * gib,
	"example.com/pinned:1": 10 * gib,
	"example.com/inuse:1":  10 * gib,
	"example.com/old1:1":   3 * gib,
	"example.com/old2:1":   3 * gib,
	"example.com/old3:1":   3 * gib,
	"example.com/old4:1":   3 * gib,
	"example.com/young:1":  30 * gib,
}

func newGCFixture(t *testing.T, capacity uint64, policy imageGCPolicy) *gcFixture {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var refs []string
	for ref := range gcImages {
		refs = append(refs, ref)
	}
	rt, err := fake.New(fake.Options{
		Images: refs, Preloaded: slices.DeleteFunc(slices.Clone(refs), func(r string) bool { return r == "example.com/young:1" }),
		ImageSizes: gcImages, Pinned: []string{"example.com/pinned:1"}, ImageFsCapacity: capacity, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "default", Uid: "u1"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	// Created, never started: a container in any state keeps its image.
	if _, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "example.com/inuse:1"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if policy.highThresholdPercent == 0 {
		policy.highThresholdPercent, policy.lowThresholdPercent = DefaultImageGCHighThreshold, DefaultImageGCLowThreshold
	}
	if policy.minAge == 0 {
		policy.minAge = DefaultImageMinimumGCAge
	}
	policy.sandboxImage = DefaultPodSandboxImage
	rec := record.NewFakeRecorder(100)
	gc := &imageGC{
		policy: policy, runtime: rt, images: rt, fsCapacity: rt.FsCapacity, clock: clk, recorder: rec,
		nodeRef: &corev1.ObjectReference{Kind: "Node", Name: "n1"}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		began: clk.Now(), records: map[string]*imageRecord{},
	}
	return &gcFixture{t: t, rt: rt, gc: gc, clock: clk, recorder: rec}
}

// present lists the short names (old1, pause, ...) of present images.
func (f *gcFixture) present() []string {
	f.t.Helper()
	imgs, err := f.rt.ListImages(context.Background(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, img := range imgs {
		name := img.RepoTags[0]
		name = name[strings.LastIndex(name, "/")+1 : strings.LastIndex(name, ":")]
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (f *gcFixture) detect() {
	f.t.Helper()
	if _, err := f.gc.detectImages(context.Background(), f.clock.Now()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *gcFixture) pull(ref string) {
	f.t.Helper()
	if _, err := f.rt.PullImage(context.Background(), &runtimeapi.ImageSpec{Image: ref}, nil, nil); err != nil {
		f.t.Fatal(err)
	}
}

func (f *gcFixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestImageGCReportsWhenTooLittleIsEligible(t *testing.T) {
	// 72 GiB of images on 72 GiB: down to 80% is 14.4 GiB to free, and
	// only the four old images (12 GiB) may go.
	f := newGCFixture(t, 72*gib, imageGCPolicy{})
	f.detect()
	for _, ref := range []string{"example.com/old1:1", "example.com/old4:1", "example.com/old2:1"} {
		f.clock.Step(10 * time.Second)
		f.gc.markUsed(ref) // old3 is the least recently used, then old1
	}
	f.clock.Step(3 * time.Minute)
	f.pull("example.com/young:1") // 72 GiB of 72: full
	if err := f.gc.garbageCollect(context.Background()); err == nil {
		t.Fatal("collection of a full filesystem with too young images succeeded")
	}
	// young was first detected just now: kept; everything eligible went
	// and it was not enough.
	if got, want := f.present(), []string{"inuse", "pause", "pinned", "young"}; !slices.Equal(got, want) {
		t.Errorf("present after a short collection = %v, want %v", got, want)
	}
	if ev := f.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FreeDiskSpaceFailed Failed to garbage collect required amount of images.") {
		t.Errorf("events = %q, want one FreeDiskSpaceFailed", ev)
	}
}

func TestImageGCFreesLeastRecentlyUsedDownToLowThreshold(t *testing.T) {
	// 42 GiB of images on 48 GiB: 88% used. Down to 80% is 9.6 GiB
	// free: 3.6 GiB to free, two 3 GiB images, the least recently used.
	f := newGCFixture(t, 48*gib, imageGCPolicy{})
	f.detect()
	for _, ref := range []string{"example.com/old1:1", "example.com/old4:1", "example.com/old2:1"} {
		f.clock.Step(10 * time.Second)
		f.gc.markUsed(ref)
	}
	f.clock.Step(3 * time.Minute)
	if err := f.gc.garbageCollect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := f.present(), []string{"inuse", "old2", "old4", "pause", "pinned"}; !slices.Equal(got, want) {
		t.Errorf("present = %v, want %v (old3 and old1, least recently used, removed)", got, want)
	}
	capacity, available, _ := f.rt.FsCapacity(fake.ImageFsMountpoint)
	if used := 100 - available*100/capacity; used > 80 {
		t.Errorf("usage after collection %d%%, want at most 80%%", used)
	}
	if ev := f.events(); len(ev) != 0 {
		t.Errorf("events = %q, want none", ev)
	}
	// Under the high threshold now: another run removes nothing.
	f.clock.Step(5 * time.Minute)
	if err := f.gc.garbageCollect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.present(); len(got) != 5 {
		t.Errorf("present after a second run = %v", got)
	}
}

func TestImageGCKeepsImagesYoungerThanMinimumAge(t *testing.T) {
	f := newGCFixture(t, 48*gib, imageGCPolicy{})
	// First detection is now: nothing is old enough.
	if err := f.gc.garbageCollect(context.Background()); err == nil {
		t.Fatal("want FreeDiskSpaceFailed")
	}
	if got := f.present(); len(got) != 7 {
		t.Errorf("present = %v, want all 7", got)
	}
	f.clock.Step(DefaultImageMinimumGCAge)
	if err := f.gc.garbageCollect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.present(); len(got) != 5 {
		t.Errorf("present = %v, want 5 after the minimum age", got)
	}
}

func TestImageGCMaximumAge(t *testing.T) {
	// A large filesystem: usage never triggers; only age does.
	f := newGCFixture(t, 1000*gib, imageGCPolicy{maxAge: 10 * time.Minute})
	f.detect()
	f.clock.Step(5 * time.Minute)
	f.gc.markUsed("example.com/old1:1")
	f.clock.Step(4 * time.Minute) // 9m since start: too early for any
	if err := f.gc.garbageCollect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.present(); len(got) != 7 {
		t.Errorf("present at 9m = %v, want all 7", got)
	}
	f.clock.Step(2 * time.Minute) // 11m: old2-4 unused 11m, old1 6m
	if err := f.gc.garbageCollect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := f.present(), []string{"inuse", "old1", "pause", "pinned"}; !slices.Equal(got, want) {
		t.Errorf("present at 11m = %v, want %v", got, want)
	}
}

func TestImageGCDisabledAtHundredPercent(t *testing.T) {
	f := newGCFixture(t, 43*gib, imageGCPolicy{highThresholdPercent: 100, lowThresholdPercent: 80})
	f.clock.Step(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		f.gc.run(ctx, time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("run did not return at once with a high threshold of 100")
	}
	if got := f.present(); len(got) != 7 {
		t.Errorf("present = %v, want all 7", got)
	}
}

func TestImageGCRunEmitsImageGCFailedOnRepeatedFailure(t *testing.T) {
	f := newGCFixture(t, 53*gib, imageGCPolicy{})
	f.gc.fsCapacity = func(string) (uint64, uint64, error) { return 0, 0, nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.gc.run(ctx, 10*time.Millisecond)
		close(done)
	}()
	deadline := time.After(5 * time.Second)
	var got []string
	for !slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, "Warning ImageGCFailed invalid capacity 0") }) {
		select {
		case e := <-f.recorder.Events:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("no ImageGCFailed event; events %q", got)
		}
	}
	cancel()
	<-done
	if !strings.HasPrefix(got[0], "Warning InvalidDiskCapacity invalid capacity 0 on image filesystem") {
		t.Errorf("first event = %q, want InvalidDiskCapacity", got[0])
	}
}

func TestImageGCConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tweak   func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"disabled", func(c *Config) { c.ImageGCHighThresholdPercent = 100 }, ""},
		{"high over 100", func(c *Config) { c.ImageGCHighThresholdPercent = 101 }, "must be between 0 and 100"},
		{"low over high", func(c *Config) { c.ImageGCHighThresholdPercent, c.ImageGCLowThresholdPercent = 70, 75 }, "must not exceed"},
		{"max age not over min age", func(c *Config) { c.ImageMaximumGCAge = time.Minute }, "must be greater than ImageMinimumGCAge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, _ := fake.New(fake.Options{})
			c := Config{NodeName: "n", Client: nil, Runtime: rt, Images: rt}
			tc.tweak(&c)
			errs := c.validateImageGC()
			switch {
			case tc.wantErr == "" && len(errs) > 0:
				t.Errorf("errors %v", errs)
			case tc.wantErr != "" && (len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.wantErr)):
				t.Errorf("errors %v, want %q", errs, tc.wantErr)
			}
		})
	}
	c := Config{}
	c.setDefaults()
	if c.ImageGCPeriod != 5*time.Minute || c.ImageGCHighThresholdPercent != 85 || c.ImageGCLowThresholdPercent != 80 ||
		c.ImageMinimumGCAge != 2*time.Minute || c.ImageMaximumGCAge != 0 || c.PodSandboxImage != "registry.k8s.io/pause:3.10" || c.ImageFsCapacity == nil {
		t.Errorf("defaults = period %v high %d low %d min %v max %v sandbox %q", c.ImageGCPeriod, c.ImageGCHighThresholdPercent,
			c.ImageGCLowThresholdPercent, c.ImageMinimumGCAge, c.ImageMaximumGCAge, c.PodSandboxImage)
	}
}
