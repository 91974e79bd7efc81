// Package fake is an in-memory CRI runtime: a RuntimeService and an
// ImageManagerService (k8s.io/cri-api/pkg/apis) that keep sandboxes,
// containers and images in maps (sandboxes and containers also in creation
// order and by pod, for lists: see listing.go). It backs hollow nodes (thousands in one
// process) and the kubelet's own tests.
//
// Containers do not run anything. What a container "does" is decided when
// it starts, from its command (see script.go): `sh -c "exit 3"` exits 3
// right away, `sleep 5` exits 0 five seconds later, anything it cannot read
// runs until stopped. Exits are not timers: a container's state is worked
// out from the clock whenever it is read, so a container costs a map entry
// and no goroutine.
//
// Errors are gRPC status errors with the codes containerd returns, so code
// written against the fake behaves the same against the real runtime.
package fake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"net"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	cri "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Defaults for Options.
const (
	DefaultRuntimeName    = "fake"
	DefaultRuntimeVersion = "0.1.0"
	DefaultPodCIDR        = "10.88.0.0/16"
	// DefaultImageFsCapacity is the image filesystem's size: 100 GiB.
	DefaultImageFsCapacity = 100 << 30
)

// DefaultImages are pullable when Options.Images is nil: the images
// skiff's own tests and examples name.
var DefaultImages = []string{
	"busybox", "busybox:1.36", "nginx", "nginx:1.27", "registry.k8s.io/pause:3.10",
	"registry.k8s.io/e2e-test-images/agnhost:2.52", "skiff.sh/test-server:latest",
}

// Options configure a Runtime; the zero value is usable.
type Options struct {
	// RuntimeName and RuntimeVersion are what Version reports
	// (default "fake", "0.1.0").
	RuntimeName, RuntimeVersion string
	// Images that PullImage can fetch, as a pod would name them ("busybox"
	// means docker.io/library/busybox:latest). Default DefaultImages. Any
	// other image is "not found", as a registry would answer.
	Images []string
	// Preloaded images are present from the start, as if pulled before.
	Preloaded []string
	// ImageSizes overrides the size of images, by reference as a pod
	// names it; others get a made-up size between 1 and 65 MB.
	ImageSizes map[string]uint64
	// Pinned images are reported pinned (never garbage collected), as
	// containerd pins its sandbox image.
	Pinned []string
	// ImageFsCapacity is the size of the image filesystem that FsCapacity
	// reports (default DefaultImageFsCapacity).
	ImageFsCapacity uint64
	// PodCIDR hands out sandbox IPs (default 10.88.0.0/16).
	PodCIDR string
	// Clock (default the real clock).
	Clock clock.PassiveClock
	// Behaviour, when set, decides what a container does when it starts
	// instead of its command; ok=false falls back to the command.
	Behaviour func(image string, argv []string) (b Behaviour, ok bool)
}

// Runtime is the fake runtime. All methods are safe for concurrent use.
type Runtime struct {
	name, version string
	clock         clock.PassiveClock
	behaviour     func(string, []string) (Behaviour, bool)

	mu         sync.Mutex
	healthy    bool
	sandboxes  map[string]*sandbox
	containers map[string]*container
	// The same in creation order, for lists (see listing.go).
	sandboxOrder   []*sandbox
	containerOrder []*container
	byPod          map[string]*podObjects // by kubetypes.PodUIDLabel
	// nextExit is no later than the first time a running container exits
	// by itself (math.MaxInt64: none will): lists look for exits only then.
	nextExit   int64
	names      map[string]string // reserved sandbox/container names → id
	images     *imageStore
	fsCapacity uint64
	ips        *ipPool
	exec       ExecHandler
}

var (
	_ cri.RuntimeService      = (*Runtime)(nil)
	_ cri.ImageManagerService = (*Runtime)(nil)
)

// New returns an empty runtime. It fails only on a malformed PodCIDR.
func New(opts Options) (*Runtime, error) {
	if opts.RuntimeName == "" {
		opts.RuntimeName = DefaultRuntimeName
	}
	if opts.RuntimeVersion == "" {
		opts.RuntimeVersion = DefaultRuntimeVersion
	}
	if opts.PodCIDR == "" {
		opts.PodCIDR = DefaultPodCIDR
	}
	if opts.Images == nil {
		opts.Images = DefaultImages
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.ImageFsCapacity == 0 {
		opts.ImageFsCapacity = DefaultImageFsCapacity
	}
	_, cidr, err := net.ParseCIDR(opts.PodCIDR)
	if err != nil {
		return nil, err
	}
	r := &Runtime{
		name: opts.RuntimeName, version: opts.RuntimeVersion, clock: opts.Clock, behaviour: opts.Behaviour,
		healthy:    true,
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
		names:      map[string]string{},
		nextExit:   math.MaxInt64,
		byPod:      map[string]*podObjects{},
		images:     newImageStore(opts.Images, opts.ImageSizes, opts.Pinned),
		fsCapacity: opts.ImageFsCapacity,
		ips:        newIPPool(cidr),
	}
	for _, ref := range opts.Preloaded {
		r.images.pull(ref, true)
	}
	return r, nil
}

// SetHealthy makes every call fail with Unavailable (false), as a runtime
// whose socket is gone would, or work again (true).
func (r *Runtime) SetHealthy(healthy bool) {
	r.mu.Lock()
	r.healthy = healthy
	r.mu.Unlock()
}

// lock takes the runtime's lock, or fails when it is unhealthy.
func (r *Runtime) lock() error {
	r.mu.Lock()
	if !r.healthy {
		r.mu.Unlock()
		return status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: connection refused\"")
	}
	return nil
}

// Version reports the runtime's name and version.
func (r *Runtime) Version(_ context.Context, _ string) (*runtimeapi.VersionResponse, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: r.name, RuntimeVersion: r.version, RuntimeApiVersion: "v1"}, nil
}

// Status reports RuntimeReady and NetworkReady, true while healthy.
func (r *Runtime) Status(_ context.Context, _ bool) (*runtimeapi.StatusResponse, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		{Type: runtimeapi.NetworkReady, Status: true},
	}}}, nil
}

// RuntimeConfig reports the cgroupfs driver, which the fake pretends to use.
func (r *Runtime) RuntimeConfig(_ context.Context) (*runtimeapi.RuntimeConfigResponse, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS}}, nil
}

// UpdateRuntimeConfig accepts and ignores the pod CIDR.
func (r *Runtime) UpdateRuntimeConfig(_ context.Context, _ *runtimeapi.RuntimeConfig) error {
	if err := r.lock(); err != nil {
		return err
	}
	r.mu.Unlock()
	return nil
}

// Close does nothing; the runtime stays usable.
func (r *Runtime) Close(context.Context) error { return nil }

// newID returns a 64-hex-digit id like containerd's.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// copyMap returns a copy, so callers never share the runtime's maps.
func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// matchLabels reports whether labels has every key=value of sel.
func matchLabels(labels, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
