package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	cri "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// imageGC is the image garbage collector, with upstream's policy: every
// period, images unused for longer than MaximumGCAge go (when set); and
// when the image filesystem is HighThresholdPercent full or more, unused
// images go, least recently used first, until it is LowThresholdPercent
// full. An image is in use while any container the runtime knows
// (running or not) was created from it; pinned images, the sandbox image
// and images first seen less than MinimumGCAge ago are never removed.
//
// Its memory (when each image was first seen and last used) is lost on
// restart, as upstream's: every image then counts as first seen and last
// used at the kubelet's start.
type imageGC struct {
	policy     imageGCPolicy
	runtime    cri.RuntimeService
	images     cri.ImageManagerService
	fsCapacity func(mountpoint string) (capacity, available uint64, err error)
	clock      clock.PassiveClock
	recorder   record.EventRecorder
	nodeRef    *corev1.ObjectReference
	log        *slog.Logger
	// began is when the kubelet started: MaximumGCAge counts no earlier.
	began time.Time

	mu      sync.Mutex
	records map[string]*imageRecord // by image id
}

type imageGCPolicy struct {
	highThresholdPercent, lowThresholdPercent int
	minAge, maxAge                            time.Duration
	sandboxImage                              string
}

// imageRecord is what image GC remembers of one image.
type imageRecord struct {
	firstDetected time.Time
	lastUsed      time.Time
	size          uint64
	pinned        bool
	names         []string // tags and digests, to match container image refs
}

// evictionCandidate is an image that may be removed.
type evictionCandidate struct {
	id string
	imageRecord
}

func newImageGC(k *Kubelet) *imageGC {
	c := k.cfg
	return &imageGC{
		policy: imageGCPolicy{
			highThresholdPercent: c.ImageGCHighThresholdPercent, lowThresholdPercent: c.ImageGCLowThresholdPercent,
			minAge: c.ImageMinimumGCAge, maxAge: c.ImageMaximumGCAge, sandboxImage: c.PodSandboxImage,
		},
		runtime: k.runtime, images: k.images, fsCapacity: c.ImageFsCapacity,
		clock: k.clock, recorder: k.recorder, log: k.log,
		nodeRef: &corev1.ObjectReference{Kind: "Node", Name: c.NodeName, UID: types.UID(c.NodeName)},
		began:   k.clock.Now(),
		records: map[string]*imageRecord{},
	}
}

// enabled says whether image GC runs at all: a high threshold of 100
// turns it off (upstream's semantics), and without a way to learn the
// image filesystem's capacity (hollow nodes) it cannot.
func (g *imageGC) enabled() bool {
	return g.policy.highThresholdPercent < 100 && g.fsCapacity != nil
}

// run collects images every period until ctx ends. A failure is logged;
// failures in a row also make an ImageGCFailed event on the Node, as
// upstream (the first may be the runtime still starting).
func (g *imageGC) run(ctx context.Context, period time.Duration) {
	if g.policy.highThresholdPercent >= 100 {
		g.log.Info("ImageGCHighThresholdPercent is 100: image garbage collection is off")
		return
	}
	if g.fsCapacity == nil {
		g.log.Debug("no image filesystem capacity source: image garbage collection is off")
		return
	}
	prevFailed := false
	wait.JitterUntilWithContext(ctx, func(ctx context.Context) {
		err := g.garbageCollect(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && prevFailed:
			g.log.Error("image garbage collection failed multiple times in a row", "err", err)
			g.recorder.Event(g.nodeRef, corev1.EventTypeWarning, "ImageGCFailed", err.Error())
		case err != nil:
			g.log.Warn("image garbage collection failed once; stats may not be ready yet", "err", err)
		case prevFailed:
			g.log.Info("image garbage collection succeeded")
		default:
			g.log.Debug("image garbage collection succeeded")
		}
		prevFailed = err != nil
	}, period, 0.1, true)
}

// garbageCollect runs one collection: images past MaximumGCAge, then, if
// the image filesystem is over the high threshold, down to the low one.
func (g *imageGC) garbageCollect(ctx context.Context) error {
	now := g.clock.Now()
	candidates, err := g.candidates(ctx, now)
	if err != nil {
		return err
	}
	candidates, err = g.freeOldImages(ctx, candidates, now)
	if err != nil {
		return err
	}

	capacity, available, err := g.imageFsStats(ctx)
	if err != nil {
		return err
	}
	if capacity == 0 {
		err := errors.New("invalid capacity 0 on image filesystem")
		g.recorder.Event(g.nodeRef, corev1.EventTypeWarning, "InvalidDiskCapacity", err.Error())
		return err
	}
	available = min(available, capacity)
	usagePercent := 100 - int(available*100/capacity)
	if usagePercent < g.policy.highThresholdPercent {
		return nil
	}
	target := capacity * uint64(100-g.policy.lowThresholdPercent) / 100
	if target <= available {
		return nil
	}
	toFree := target - available
	g.log.Info("disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold",
		"usage", usagePercent, "highThreshold", g.policy.highThresholdPercent, "amountToFree", toFree, "lowThreshold", g.policy.lowThresholdPercent)
	freed, err := g.freeSpace(ctx, candidates, toFree, now)
	if err != nil {
		return err
	}
	if freed < toFree {
		msg := fmt.Sprintf("Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free.", toFree, freed)
		g.recorder.Event(g.nodeRef, corev1.EventTypeWarning, "FreeDiskSpaceFailed", msg)
		return errors.New(msg)
	}
	return nil
}

// imageFsStats is the capacity and free bytes of the image filesystem.
func (g *imageGC) imageFsStats(ctx context.Context) (capacity, available uint64, err error) {
	resp, err := g.images.ImageFsInfo(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("image filesystem info: %w", err)
	}
	if len(resp.GetImageFilesystems()) == 0 {
		return 0, 0, errors.New("the runtime reported no image filesystem")
	}
	mountpoint := resp.ImageFilesystems[0].GetFsId().GetMountpoint()
	capacity, available, err = g.fsCapacity(mountpoint)
	if err != nil {
		return 0, 0, fmt.Errorf("image filesystem %s: %w", mountpoint, err)
	}
	return capacity, available, nil
}

// freeOldImages removes the candidates unused for longer than
// MaximumGCAge and returns the rest. Nothing goes before the kubelet has
// itself run that long: it cannot know what was used before it started.
func (g *imageGC) freeOldImages(ctx context.Context, candidates []evictionCandidate, now time.Time) ([]evictionCandidate, error) {
	if g.policy.maxAge <= 0 || now.Sub(g.began) <= g.policy.maxAge {
		return candidates, nil
	}
	var errs []error
	rest := candidates[:0:0]
	for _, c := range candidates {
		if now.Sub(c.lastUsed) <= g.policy.maxAge {
			rest = append(rest, c)
			continue
		}
		if err := g.removeImage(ctx, c, "age"); err != nil {
			errs = append(errs, err)
			rest = append(rest, c)
		}
	}
	return rest, errors.Join(errs...)
}

// freeSpace removes candidates, least recently used first, skipping the
// ones first seen less than MinimumGCAge ago, until toFree bytes are
// freed. It returns what it freed; errors are those of removals.
func (g *imageGC) freeSpace(ctx context.Context, candidates []evictionCandidate, toFree uint64, now time.Time) (uint64, error) {
	var freed uint64
	var errs []error
	for _, c := range candidates {
		if freed >= toFree {
			break
		}
		if now.Sub(c.firstDetected) < g.policy.minAge {
			g.log.Debug("image first detected too recently to collect", "imageID", c.id, "age", now.Sub(c.firstDetected), "minAge", g.policy.minAge)
			continue
		}
		if err := g.removeImage(ctx, c, "space"); err != nil {
			errs = append(errs, err)
			continue
		}
		freed += c.size
	}
	return freed, errors.Join(errs...)
}

// removeImage removes one image from the runtime and forgets it.
func (g *imageGC) removeImage(ctx context.Context, c evictionCandidate, why string) error {
	g.log.Info("removing image to free bytes", "imageID", c.id, "size", c.size, "reason", why,
		"lastUsed", c.lastUsed, "firstDetected", c.firstDetected)
	if err := g.images.RemoveImage(ctx, &runtimeapi.ImageSpec{Image: c.id}); err != nil {
		return fmt.Errorf("remove image %s: %w", c.id, err)
	}
	g.mu.Lock()
	delete(g.records, c.id)
	g.mu.Unlock()
	return nil
}

// candidates refreshes the records from the runtime and returns the
// images that may be removed, least recently used first (then first
// detected first): not in use by any container, not pinned, not the
// sandbox image. Age limits are the caller's.
func (g *imageGC) candidates(ctx context.Context, now time.Time) ([]evictionCandidate, error) {
	inUse, err := g.detectImages(ctx, now)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]evictionCandidate, 0, len(g.records))
	for id, r := range g.records {
		if inUse[id] || r.pinned {
			continue
		}
		out = append(out, evictionCandidate{id: id, imageRecord: *r})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.lastUsed.Equal(b.lastUsed) {
			return a.lastUsed.Before(b.lastUsed)
		}
		if !a.firstDetected.Equal(b.firstDetected) {
			return a.firstDetected.Before(b.firstDetected)
		}
		return a.id < b.id
	})
	return out, nil
}

// detectImages lists images and containers, records images it has not
// seen (first detected and last used now), marks the ones containers use
// as used now, forgets removed ones, and returns the ids of images in
// use (the sandbox image counts as always in use).
func (g *imageGC) detectImages(ctx context.Context, now time.Time) (map[string]bool, error) {
	imgs, err := g.images.ListImages(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	ctrs, err := g.runtime.ListContainers(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	refs := map[string]bool{}
	for _, c := range ctrs {
		for _, ref := range []string{c.GetImageRef(), c.GetImageId(), c.GetImage().GetImage()} {
			if ref != "" {
				refs[ref] = true
			}
		}
	}
	if g.policy.sandboxImage != "" {
		refs[g.policy.sandboxImage] = true
		// The runtime may name it only in normalized form.
		if st, err := g.images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: g.policy.sandboxImage}, false); err == nil && st.GetImage() != nil {
			refs[st.Image.Id] = true
		}
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	inUse := map[string]bool{}
	seen := map[string]bool{}
	for _, img := range imgs {
		seen[img.Id] = true
		r, ok := g.records[img.Id]
		if !ok {
			r = &imageRecord{firstDetected: now, lastUsed: now}
			g.records[img.Id] = r
		}
		r.size, r.pinned = img.Size, img.Pinned
		r.names = append(append(append(r.names[:0], img.Id), img.RepoTags...), img.RepoDigests...)
		for _, name := range r.names {
			if refs[name] {
				inUse[img.Id] = true
				r.lastUsed = now
				break
			}
		}
	}
	for id := range g.records {
		if !seen[id] {
			delete(g.records, id)
		}
	}
	return inUse, nil
}

// markUsed records that a container was just created from image (an id,
// tag or digest), so that it counts as recently used even if the
// container is gone by the next collection.
func (g *imageGC) markUsed(image string) {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.records[image]; ok {
		r.lastUsed = now
		return
	}
	for _, r := range g.records {
		for _, name := range r.names {
			if name == image {
				r.lastUsed = now
				return
			}
		}
	}
}

// statfsCapacity is ImageFsCapacity on a real node: the filesystem's
// size and the bytes available to unprivileged users, as df shows them.
func statfsCapacity(mountpoint string) (capacity, available uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(mountpoint, &st); err != nil {
		return 0, 0, err
	}
	return st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize), nil
}
