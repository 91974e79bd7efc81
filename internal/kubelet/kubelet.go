// Package kubelet is skiff's node agent: it registers the Node, keeps its
// status and lease fresh, and runs the pods bound to it through a CRI
// runtime (containerd, or internal/cri/fake for hollow nodes), reporting
// their status back to the API server.
//
// It owns the pod lifecycle: sandboxes, image pulls, init and app
// containers, restarts with CrashLoopBackOff, lifecycle hooks, graceful
// termination, status, and cleanup of what no pod owns. It does not own
// volumes (VolumeManager, internal/kubelet/volume), probes (ProbeManager,
// internal/kubelet/prober) or the kubelet's HTTPS server
// (internal/kubelet/server); it defines the interfaces the first two
// implement.
//
// State lives in two places only: the API server (pods, the Node) and the
// runtime (sandboxes and containers, labelled with their pod's UID and
// annotated with restart counts). A restarted kubelet rebuilds everything
// from them, adopting running containers rather than restarting them.
package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	cri "k8s.io/cri-api/pkg/apis"
	"k8s.io/utils/clock"
)

// Kubelet runs the pods of one node. Create it with New, run it with Run.
type Kubelet struct {
	cfg      Config
	log      *slog.Logger
	client   kubernetes.Interface
	runtime  cri.RuntimeService
	images   cri.ImageManagerService
	clock    clock.WithTickerAndDelayedExecution
	volumes  VolumeManager
	probes   ProbeManager
	recorder record.EventRecorder
	// broadcaster is the kubelet's own, stopped with Run; nil when shared.
	broadcaster record.EventBroadcaster

	machine *machineInfo
	nodeIP  string
	hostDNS *resolvConf

	workers     *podWorkers
	podInformer cache.Controller
	crashBack   *backOff
	pullBack    *backOff
	imageGC     *imageGC

	mu   sync.Mutex
	pods map[types.UID]*podState

	// runtimeName prefixes container IDs ("containerd"); read from the
	// runtime's Version once it answers.
	runtimeName    atomic.Pointer[string]
	runtimeVersion atomic.Pointer[string]

	node nodeState
}

// podState is what the kubelet remembers of a pod between syncs; all of
// it can be lost (restart) without harm.
type podState struct {
	// pod is the latest version from the API server; nil for a UID seen
	// only in the runtime.
	pod *corev1.Pod
	// gone: the pod was deleted from the API server.
	gone bool
	// waiting holds, per container name, why its last start failed
	// (ErrImagePull, CrashLoopBackOff, CreateContainerConfigError, ...);
	// shown as the container's waiting state until it runs.
	waiting map[string]*corev1.ContainerStateWaiting
	// unhealthy holds liveness/startup failures by container ID, to kill.
	unhealthy map[string]ProbeFailure
	// terminal: the pod finished (Succeeded/Failed); nothing restarts.
	terminal bool
	// tornDown: volumes of the finished pod were torn down.
	tornDown bool
	// deleted: the kubelet finished the pod's termination and deleted it.
	deleted bool
	// firstSeen is the pod's start time until the API has one.
	firstSeen metav1.Time
	// postedPhase is the phase of the kubelet's last status write: the
	// informer's echo of it is no reason to sync again.
	postedPhase corev1.PodPhase
	// observedAt is when the informer first delivered the pod (wall
	// clock; for sync timing logs only).
	observedAt time.Time
}

// nodeState is the node status loop's memory.
type nodeState struct {
	mu           sync.Mutex
	lastStatus   *corev1.NodeStatus
	lastReported time.Time
	lease        *coordinationv1.Lease
	runtimeErr   error
}

// New checks cfg and prepares a kubelet; nothing runs until Run.
func New(cfg Config) (*Kubelet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kubelet config: %w", err)
	}
	cfg.setDefaults()
	k := &Kubelet{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "kubelet", "node", cfg.NodeName),
		client:  cfg.Client,
		runtime: cfg.Runtime,
		images:  cfg.Images,
		clock:   cfg.Clock,
		volumes: cfg.Volumes,
		probes:  cfg.Probes,
		pods:    map[types.UID]*podState{},
	}
	k.crashBack = newBackOff(k.clock, cfg.CrashLoopBackOffInitial, cfg.CrashLoopBackOffMax)
	k.pullBack = newBackOff(k.clock, cfg.ImagePullBackOffInitial, cfg.ImagePullBackOffMax)
	if cfg.Hollow {
		k.machine = hollowMachine(cfg.Capacity)
	} else {
		k.machine = detectMachine(cfg.RootDir, cfg.Capacity, k.log)
	}
	k.nodeIP = cfg.NodeIP
	if k.nodeIP == "" {
		k.nodeIP = defaultNodeIP(cfg.Hollow)
	}
	k.hostDNS = &resolvConf{}
	if !cfg.Hollow && cfg.ResolvConf != "-" {
		rc, err := readResolvConf(cfg.ResolvConf)
		if err != nil {
			k.log.Warn("cannot read the host's resolv.conf; pods with dnsPolicy Default get no DNS", "path", cfg.ResolvConf, "err", err)
		}
		k.hostDNS = rc
	}
	if !k.machine.canLowerOOMScore {
		k.log.Info("no CAP_SYS_RESOURCE: container oom_score_adj is kept at 0 or above")
	}
	if cfg.EventBroadcaster == nil {
		k.broadcaster = record.NewBroadcaster()
		cfg.EventBroadcaster = k.broadcaster
	}
	k.recorder = cfg.EventBroadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.NodeName})
	k.imageGC = newImageGC(k)
	return k, nil
}

// Run registers the node and runs pods until ctx ends. It returns nil on
// cancellation; an error only when it cannot start.
func (k *Kubelet) Run(ctx context.Context) error {
	k.log.Info("starting kubelet", "nodeIP", k.nodeIP, "hollow", k.cfg.Hollow)
	defer k.log.Info("stopped kubelet")
	if k.broadcaster != nil {
		k.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
		defer k.broadcaster.Shutdown()
	}
	k.refreshRuntimeVersion(ctx)
	if err := k.registerNode(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	k.workers = newPodWorkers(ctx, k.clock, k.syncPod, func(uid types.UID, err error) {
		k.log.Info("pod sync failed, will retry", "pod", k.podName(uid), "err", err)
	})
	defer k.workers.Stop()

	var wg sync.WaitGroup
	defer wg.Wait()
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	if _, none := k.probes.(NoProbes); !none {
		run(func(ctx context.Context) {
			if err := k.probes.Start(ctx, probeHost{k}); err != nil {
				k.log.Error("prober stopped", "err", err)
			}
		})
	}
	k.podInformer = k.newPodInformer()
	run(func(ctx context.Context) { k.podInformer.Run(ctx.Done()) })
	if !cache.WaitForCacheSync(ctx.Done(), k.podInformer.HasSynced) {
		return nil
	}
	run(k.runPLEG)
	run(k.runHeartbeat)
	run(func(ctx context.Context) { k.imageGC.run(ctx, k.cfg.ImageGCPeriod) })
	<-ctx.Done()
	return nil
}

// refreshRuntimeVersion learns the runtime's name and version, if it
// answers.
func (k *Kubelet) refreshRuntimeVersion(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := k.runtime.Version(ctx, "v1")
	if err != nil {
		return err
	}
	name, version := v.RuntimeName, v.RuntimeVersion
	k.runtimeName.Store(&name)
	k.runtimeVersion.Store(&version)
	return nil
}

// containerIDPrefix is "<runtime>://", as container IDs are reported.
func (k *Kubelet) containerIDPrefix() string {
	if name := k.runtimeName.Load(); name != nil {
		return *name + "://"
	}
	return "containerd://"
}

// state returns uid's podState, creating it when create is set.
func (k *Kubelet) state(uid types.UID, create bool) *podState {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, ok := k.pods[uid]
	if !ok && create {
		st = &podState{waiting: map[string]*corev1.ContainerStateWaiting{}, unhealthy: map[string]ProbeFailure{},
			firstSeen: metav1.NewTime(k.clock.Now()).Rfc3339Copy()}
		k.pods[uid] = st
	}
	return st
}

// podName is namespace/name for logs, or the UID when unknown.
func (k *Kubelet) podName(uid types.UID) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if st, ok := k.pods[uid]; ok && st.pod != nil {
		return st.pod.Namespace + "/" + st.pod.Name
	}
	return string(uid)
}

// poll runs f every period until ctx ends, jittered so that thousands of
// hollow nodes do not tick together. The period is counted from when f
// returns (sliding).
func (k *Kubelet) poll(ctx context.Context, period time.Duration, f func(context.Context)) {
	wait.JitterUntilWithContext(ctx, f, period, 0.1, true)
}

// pollFixed is poll on a fixed cadence: the period is counted from when f
// starts, so a slow f (an API server that stalls) does not shift the
// schedule. Sliding heartbeats of many nodes all restart when a stall
// ends, and in step they make the next stall: a 2,000-node run renewed
// its Leases in bursts of twice the average rate.
func (k *Kubelet) pollFixed(ctx context.Context, period time.Duration, f func(context.Context)) {
	wait.JitterUntilWithContext(ctx, f, period, 0.1, false)
}
