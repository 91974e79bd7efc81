package kubelet

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	cri "k8s.io/cri-api/pkg/apis"
	"k8s.io/utils/clock"
)

// Defaults for Config, as upstream's kubelet configuration defaults.
const (
	DefaultRootDir                   = "/var/lib/kubelet"
	DefaultPodLogsDir                = "/var/log/pods"
	DefaultClusterDomain             = "cluster.local"
	DefaultResolvConf                = "/etc/resolv.conf"
	DefaultPort                      = 10250
	DefaultCgroupRoot                = "/kubepods"
	DefaultMaxPods                   = 110
	DefaultKubeletVersion            = "v1.32.4+skiff"
	DefaultNodeStatusUpdateFrequency = 10 * time.Second
	DefaultNodeStatusReportFrequency = 5 * time.Minute
	DefaultNodeLeaseRenewInterval    = 10 * time.Second
	DefaultNodeLeaseDurationSeconds  = 40
	DefaultRelistPeriod              = time.Second
	DefaultResyncPeriod              = 10 * time.Second
	DefaultBackOffInitial            = 10 * time.Second
	DefaultBackOffMax                = 5 * time.Minute
	DefaultMaxDeadContainers         = 2
	DefaultImageGCPeriod             = 5 * time.Minute
	DefaultImageGCHighThreshold      = 85
	DefaultImageGCLowThreshold       = 80
	DefaultImageMinimumGCAge         = 2 * time.Minute
	DefaultPodSandboxImage           = "registry.k8s.io/pause:3.10"
)

// Config is the kubelet's configuration. NodeName, Client, Runtime and
// Images are required; every other zero value takes the default above.
type Config struct {
	// NodeName is the Node this kubelet registers and runs pods for.
	NodeName string
	// Client talks to the API server.
	Client kubernetes.Interface
	// Runtime and Images are the CRI services (containerd's, or the fake).
	Runtime cri.RuntimeService
	Images  cri.ImageManagerService

	// RootDir holds per-pod state: /etc/hosts files and termination
	// message files under pods/<uid>/ (default /var/lib/kubelet).
	RootDir string
	// PodLogsDir is where the runtime writes container logs, in
	// <ns>_<name>_<uid>/<container>/<restart>.log (default /var/log/pods).
	PodLogsDir string
	// ClusterDNS are the nameservers of ClusterFirst pods; without any,
	// such pods get the host's DNS (as upstream does, with a warning).
	ClusterDNS []string
	// ClusterDomain (default cluster.local).
	ClusterDomain string
	// ResolvConf is the host's resolver file for dnsPolicy Default and the
	// host search domains (default /etc/resolv.conf; "-" for none).
	ResolvConf string
	// NodeIP is the node's InternalIP and the pods' hostIP (default: the
	// first non-loopback IPv4 address of the machine, 127.0.0.1 for hollow
	// nodes).
	NodeIP string
	// Capacity overrides what the machine reports, per resource (cpu,
	// memory, ephemeral-storage, pods); hollow nodes report only this and
	// fixed defaults.
	Capacity corev1.ResourceList
	// Labels are added to the Node's well-known labels on registration.
	Labels map[string]string
	// Taints the Node registers with.
	Taints []corev1.Taint
	// Volumes sets up pod volumes (default NoVolumes).
	Volumes VolumeManager
	// Probes runs container probes (default NoProbes).
	Probes ProbeManager
	// Services, when set, is where pods' service environment variables
	// come from: an informer's lister of every Service, as upstream's
	// kubelet keeps, with ServicesSynced its informer's HasSynced. Nil
	// reads the Services from the API server at each container start.
	Services       corelisters.ServiceLister
	ServicesSynced func() bool
	// Hollow makes a node that touches nothing on the host: no files under
	// RootDir or PodLogsDir, no machine inspection. For running thousands
	// of nodes against the fake runtime in one process.
	Hollow bool
	// CgroupRoot is the cgroupfs parent of every pod's cgroup (default
	// /kubepods). Nodes sharing one machine need one each.
	CgroupRoot string
	// Port is the kubelet server's port, published in the Node (10250).
	Port int32
	// KubeletVersion reported in the Node.
	KubeletVersion string
	// EventBroadcaster to record events with; hollow nodes share one.
	// Default: the kubelet starts its own and stops it with Run.
	EventBroadcaster record.EventBroadcaster
	// Clock (default the real clock).
	Clock clock.WithTickerAndDelayedExecution
	// Logger (default slog.Default()).
	Logger *slog.Logger

	// Timing, defaults as upstream.
	NodeStatusUpdateFrequency time.Duration // status computed (10s)
	NodeStatusReportFrequency time.Duration // status written without change (5m)
	NodeLeaseRenewInterval    time.Duration // lease renewed (10s)
	NodeLeaseDurationSeconds  int32         // lease duration (40)
	RelistPeriod              time.Duration // runtime relisted for changes (1s)
	ResyncPeriod              time.Duration // every pod synced at least this often, jittered down to 3/4 (10s)
	CrashLoopBackOffInitial   time.Duration // first restart delay (10s)
	CrashLoopBackOffMax       time.Duration // cap (5m); reset after 2×cap of running
	ImagePullBackOffInitial   time.Duration // (10s)
	ImagePullBackOffMax       time.Duration // (5m)
	// MaxDeadContainers kept per container of a pod (2: the last exit and
	// the one before, for state and lastState).
	MaxDeadContainers int

	// Image garbage collection (imagegc.go), defaults as upstream's.
	ImageGCPeriod               time.Duration // how often it looks (5m)
	ImageGCHighThresholdPercent int           // image fs usage that starts a collection (85); 100 turns image GC off
	ImageGCLowThresholdPercent  int           // usage a collection frees down to (80)
	ImageMinimumGCAge           time.Duration // an unused image is kept at least this long after first seen (2m)
	ImageMaximumGCAge           time.Duration // an image unused this long goes whatever the usage (0: never)
	// PodSandboxImage is the runtime's pause image, which image GC never
	// removes (default registry.k8s.io/pause:3.10, what skiff configures
	// containerd with).
	PodSandboxImage string
	// ImageFsCapacity reports the size and free bytes of the filesystem
	// mounted at mountpoint, the image filesystem the runtime's
	// ImageFsInfo names (the CRI reports usage, not capacity). Default:
	// statfs on real nodes; none on hollow nodes, which then collect no
	// images.
	ImageFsCapacity func(mountpoint string) (capacity, available uint64, err error)
}

// setDefaults fills zero fields; validate must pass first.
func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.RootDir == "" {
		c.RootDir = DefaultRootDir
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = DefaultCgroupRoot
	}
	if c.PodLogsDir == "" {
		c.PodLogsDir = DefaultPodLogsDir
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = DefaultClusterDomain
	}
	if c.ResolvConf == "" {
		c.ResolvConf = DefaultResolvConf
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.KubeletVersion == "" {
		c.KubeletVersion = DefaultKubeletVersion
	}
	if c.Volumes == nil {
		c.Volumes = NoVolumes{}
	}
	if c.Probes == nil {
		c.Probes = NoProbes{}
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.NodeLeaseDurationSeconds <= 0 {
		c.NodeLeaseDurationSeconds = DefaultNodeLeaseDurationSeconds
	}
	if c.MaxDeadContainers <= 0 {
		c.MaxDeadContainers = DefaultMaxDeadContainers
	}
	def(&c.NodeStatusUpdateFrequency, DefaultNodeStatusUpdateFrequency)
	def(&c.NodeStatusReportFrequency, DefaultNodeStatusReportFrequency)
	def(&c.NodeLeaseRenewInterval, DefaultNodeLeaseRenewInterval)
	def(&c.RelistPeriod, DefaultRelistPeriod)
	def(&c.ResyncPeriod, DefaultResyncPeriod)
	def(&c.CrashLoopBackOffInitial, DefaultBackOffInitial)
	def(&c.CrashLoopBackOffMax, DefaultBackOffMax)
	def(&c.ImagePullBackOffInitial, DefaultBackOffInitial)
	def(&c.ImagePullBackOffMax, DefaultBackOffMax)
	def(&c.ImageGCPeriod, DefaultImageGCPeriod)
	def(&c.ImageMinimumGCAge, DefaultImageMinimumGCAge)
	c.ImageGCHighThresholdPercent, c.ImageGCLowThresholdPercent = c.imageGCThresholds()
	if c.PodSandboxImage == "" {
		c.PodSandboxImage = DefaultPodSandboxImage
	}
	if c.ImageFsCapacity == nil && !c.Hollow {
		c.ImageFsCapacity = statfsCapacity
	}
}

// imageGCThresholds are the image GC thresholds with defaults applied.
func (c *Config) imageGCThresholds() (high, low int) {
	high, low = c.ImageGCHighThresholdPercent, c.ImageGCLowThresholdPercent
	if high == 0 {
		high = DefaultImageGCHighThreshold
	}
	if low == 0 {
		low = min(DefaultImageGCLowThreshold, high)
	}
	return high, low
}

// Validate reports what is missing or malformed.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("NodeName is required"))
	}
	if c.Client == nil {
		errs = append(errs, errors.New("Client is required"))
	}
	if c.Runtime == nil || c.Images == nil {
		errs = append(errs, errors.New("Runtime and Images are required"))
	}
	if c.NodeIP != "" && net.ParseIP(c.NodeIP) == nil {
		errs = append(errs, fmt.Errorf("NodeIP %q is not an IP address", c.NodeIP))
	}
	for _, ip := range c.ClusterDNS {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("ClusterDNS %q is not an IP address", ip))
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("Port %d out of range", c.Port))
	}
	if c.CgroupRoot != "" && (!path.IsAbs(c.CgroupRoot) || path.Clean(c.CgroupRoot) != c.CgroupRoot || c.CgroupRoot == "/") {
		errs = append(errs, fmt.Errorf("CgroupRoot %q is not a clean absolute cgroup path below the root", c.CgroupRoot))
	}
	errs = append(errs, c.validateImageGC()...)
	return errors.Join(errs...)
}

// validateImageGC checks the image GC settings as upstream's kubelet
// configuration validation does.
func (c *Config) validateImageGC() []error {
	var errs []error
	high, low := c.imageGCThresholds()
	if high < 0 || high > 100 {
		errs = append(errs, fmt.Errorf("ImageGCHighThresholdPercent (%d) must be between 0 and 100", high))
	}
	if low < 0 || low > 100 {
		errs = append(errs, fmt.Errorf("ImageGCLowThresholdPercent (%d) must be between 0 and 100", low))
	}
	if low > high {
		errs = append(errs, fmt.Errorf("ImageGCLowThresholdPercent (%d) must not exceed ImageGCHighThresholdPercent (%d)", low, high))
	}
	minAge := c.ImageMinimumGCAge
	if minAge <= 0 {
		minAge = DefaultImageMinimumGCAge
	}
	if c.ImageMaximumGCAge < 0 {
		errs = append(errs, fmt.Errorf("ImageMaximumGCAge %v must not be negative", c.ImageMaximumGCAge))
	} else if c.ImageMaximumGCAge > 0 && c.ImageMaximumGCAge <= minAge {
		errs = append(errs, fmt.Errorf("ImageMaximumGCAge %v must be greater than ImageMinimumGCAge %v", c.ImageMaximumGCAge, minAge))
	}
	return errs
}
