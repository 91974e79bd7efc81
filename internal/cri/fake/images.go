package fake

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// image is a pulled image. Ids and digests are hashes of the reference,
// so the same image has the same id in every fake runtime.
type image struct {
	ref    string // normalized, e.g. docker.io/library/busybox:latest
	id     string // sha256:...
	digest string // sha256:...
	// repoDig is repoDigest's answer, made once: every relist reports it.
	repoDig string
	size    uint64
	pinned  bool // never garbage collected (CRI Image.pinned)
}

func newImage(ref string) *image {
	sum := sha256.Sum256([]byte(ref))
	dsum := sha256.Sum256([]byte("digest:" + ref))
	// A plausible size between 1 and 65 MB, fixed per image.
	size := 1<<20 + binary.BigEndian.Uint64(sum[:8])%(64<<20)
	img := &image{ref: ref, id: "sha256:" + hex.EncodeToString(sum[:]), digest: "sha256:" + hex.EncodeToString(dsum[:]), size: size}
	img.repoDig = repository(ref) + "@" + img.digest
	return img
}

// repoDigest is the name@digest form the kubelet reports as imageID.
func (i *image) repoDigest() string { return i.repoDig }

func (i *image) api() *runtimeapi.Image {
	return &runtimeapi.Image{
		Id: i.id, RepoTags: []string{i.ref}, RepoDigests: []string{i.repoDigest()}, Size: i.size,
		Spec: &runtimeapi.ImageSpec{Image: i.id}, Pinned: i.pinned,
	}
}

// imageStore is the registry (what can be pulled) and the local store
// (what was). Callers hold Runtime.mu.
type imageStore struct {
	pullable map[string]bool
	present  map[string]*image // by normalized ref
	sizes    map[string]uint64 // by normalized ref: sizes that override the made-up one
	pinned   map[string]bool   // by normalized ref
}

func newImageStore(pullable []string, sizes map[string]uint64, pinned []string) *imageStore {
	s := &imageStore{pullable: map[string]bool{}, present: map[string]*image{}, sizes: map[string]uint64{}, pinned: map[string]bool{}}
	for _, ref := range pullable {
		s.pullable[normalizeRef(ref)] = true
	}
	for ref, size := range sizes {
		s.sizes[normalizeRef(ref)] = size
	}
	for _, ref := range pinned {
		s.pinned[normalizeRef(ref)] = true
	}
	return s
}

// pull adds ref to the local store; without force it must be pullable.
func (s *imageStore) pull(ref string, force bool) *image {
	ref = normalizeRef(ref)
	if img, ok := s.present[ref]; ok {
		return img
	}
	if !force && !s.pullable[ref] {
		return nil
	}
	img := newImage(ref)
	if size, ok := s.sizes[ref]; ok {
		img.size = size
	}
	img.pinned = s.pinned[ref]
	s.present[ref] = img
	return img
}

// find resolves a reference, an image id (or its hex prefix) or a repo
// digest to a present image.
func (s *imageStore) find(name string) *image {
	if name == "" {
		return nil
	}
	if img, ok := s.present[normalizeRef(name)]; ok {
		return img
	}
	prefix := ""
	if hex := strings.TrimPrefix(name, "sha256:"); len(hex) >= 12 {
		prefix = "sha256:" + hex
	}
	for _, img := range s.present {
		if img.id == name || img.repoDigest() == name || prefix != "" && strings.HasPrefix(img.id, prefix) {
			return img
		}
	}
	return nil
}

// ListImages lists present images, optionally only the one filter names.
func (r *Runtime) ListImages(_ context.Context, filter *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	out := []*runtimeapi.Image{}
	if name := filter.GetImage().GetImage(); name != "" {
		if img := r.images.find(name); img != nil {
			out = append(out, img.api())
		}
		return out, nil
	}
	for _, img := range r.images.present {
		out = append(out, img.api())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RepoTags[0] < out[j].RepoTags[0] })
	return out, nil
}

// ImageStatus returns the image, or a nil Image when it is not present
// (not an error, as the CRI specifies).
func (r *Runtime) ImageStatus(_ context.Context, spec *runtimeapi.ImageSpec, _ bool) (*runtimeapi.ImageStatusResponse, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	resp := &runtimeapi.ImageStatusResponse{}
	if img := r.images.find(spec.GetImage()); img != nil {
		resp.Image = img.api()
	}
	return resp, nil
}

// PullImage "pulls" a pullable image and returns its id; any other image
// is NotFound, worded as containerd words a registry's 404.
func (r *Runtime) PullImage(_ context.Context, spec *runtimeapi.ImageSpec, _ *runtimeapi.AuthConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	if spec.GetImage() == "" {
		return "", status.Error(codes.InvalidArgument, "image spec must name an image")
	}
	if err := r.lock(); err != nil {
		return "", err
	}
	defer r.mu.Unlock()
	img := r.images.pull(spec.GetImage(), false)
	if img == nil {
		ref := normalizeRef(spec.GetImage())
		return "", status.Errorf(codes.NotFound, "failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", ref, ref, ref)
	}
	return img.id, nil
}

// RemoveImage removes a present image; removing an absent one succeeds.
func (r *Runtime) RemoveImage(_ context.Context, spec *runtimeapi.ImageSpec) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if img := r.images.find(spec.GetImage()); img != nil {
		for _, c := range r.containers {
			if c.image == img {
				return status.Errorf(codes.FailedPrecondition, "image %q is in use by container %q", img.ref, c.id)
			}
		}
		delete(r.images.present, img.ref)
	}
	return nil
}

// ImageFsMountpoint is the image filesystem the fake reports.
const ImageFsMountpoint = "/var/lib/containerd"

// ImageFsInfo reports the present images' total size on one filesystem.
func (r *Runtime) ImageFsInfo(_ context.Context) (*runtimeapi.ImageFsInfoResponse, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	used := r.images.used()
	fs := &runtimeapi.FilesystemUsage{
		Timestamp:  r.clock.Now().UnixNano(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: ImageFsMountpoint},
		UsedBytes:  &runtimeapi.UInt64Value{Value: used},
		InodesUsed: &runtimeapi.UInt64Value{Value: uint64(len(r.images.present))},
	}
	return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{fs}, ContainerFilesystems: []*runtimeapi.FilesystemUsage{fs}}, nil
}

// used is the present images' total size.
func (s *imageStore) used() uint64 {
	var used uint64
	for _, img := range s.present {
		used += img.size
	}
	return used
}

// FsCapacity reports the size of the image filesystem (Options.
// ImageFsCapacity) and what the present images leave of it, as statfs
// would on a real node: the CRI reports usage only, the kubelet learns
// capacity from the filesystem. Any mountpoint but ImageFsMountpoint is
// NotFound.
func (r *Runtime) FsCapacity(mountpoint string) (capacity, available uint64, err error) {
	if err := r.lock(); err != nil {
		return 0, 0, err
	}
	defer r.mu.Unlock()
	if mountpoint != ImageFsMountpoint {
		return 0, 0, status.Errorf(codes.NotFound, "no filesystem mounted at %q", mountpoint)
	}
	used := r.images.used()
	if used >= r.fsCapacity {
		return r.fsCapacity, 0, nil
	}
	return r.fsCapacity, r.fsCapacity - used, nil
}

// normalizeRef expands a reference the way docker and containerd do:
// "busybox" → "docker.io/library/busybox:latest", "x/y" →
// "docker.io/x/y:latest"; a tag or digest is kept.
func normalizeRef(ref string) string {
	name, suffix := ref, ""
	if i := strings.Index(ref, "@"); i >= 0 {
		name, suffix = ref[:i], ref[i:]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, suffix = ref[:i], ref[i:]
	}
	if suffix == "" {
		suffix = ":latest"
	}
	first, rest, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case strings.ContainsAny(first, ".:") || first == "localhost":
		if first == "docker.io" && !strings.Contains(rest, "/") {
			name = "docker.io/library/" + rest
		}
	default:
		name = "docker.io/" + name
	}
	return name + suffix
}

// repository strips the tag or digest of a normalized reference.
func repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}
