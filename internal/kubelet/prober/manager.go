// Package prober runs containers' liveness, readiness and startup probes
// (exec, httpGet, tcpSocket, grpc) the way upstream's kubelet does: one
// worker per container and probe type, thresholds counted per container
// instance, startup probes gating the other two.
//
// It owns probe results and the Unhealthy / ProbeWarning events. It does
// not own containers: the kubelet reports them (UpdatePod with container
// instances, or AddPod plus UpdatePodStatus from the status it computes),
// reads Ready and Started (or lets UpdatePodStatus fill them in), runs exec
// probes through Options.Exec (CRI ExecSync), and kills and restarts a
// container when a liveness or startup Failure is reported.
package prober

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// UserAgent is what HTTP and gRPC probes send, as a v1.32 kubelet does.
const UserAgent = "kube-probe/1.32"

// ExecFunc runs cmd in a container and returns its output and exit code;
// err is for failures to run it at all. When the command outlives timeout
// it must return an error satisfying errors.Is(err,
// context.DeadlineExceeded) (or a gRPC DeadlineExceeded status, as CRI
// ExecSync gives): that counts as a probe failure, other errors do not.
type ExecFunc func(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout []byte, exitCode int, err error)

// ContainerInfo is what the kubelet knows of a container's current
// instance. A new ID is a new instance: its probe results start over.
type ContainerInfo struct {
	ID        string
	StartedAt time.Time
	Running   bool
}

// Options configure a Manager; all are optional. OnLivenessFailure,
// OnChange and Recorder can also be set later with SetHooks.
type Options struct {
	// Exec runs exec probes; without it they error (and never count).
	Exec ExecFunc
	// OnLivenessFailure is called once a liveness or startup probe has
	// failed failureThreshold times in a row for a container instance;
	// message is the one for the kubelet's Killing event, "Container x
	// failed liveness probe, will be restarted" (or "startup probe").
	// Probing of that instance pauses until UpdatePod reports a new ID.
	OnLivenessFailure func(podUID types.UID, containerName, containerID, message string)
	// OnChange is called when a container's readiness or started state
	// changes, so the kubelet writes pod status again.
	OnChange func(podUID types.UID)
	// Recorder gets Unhealthy and ProbeWarning events about the pod.
	Recorder record.EventRecorder
	// Clock; default the real clock.
	Clock clock.WithTicker
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Manager runs probe workers for the pods it is told about.
type Manager struct {
	opts   Options
	clock  clock.WithTicker
	log    *slog.Logger
	client *http.Client
	// unit is one probe "second" (periodSeconds, timeoutSeconds,
	// initialDelaySeconds); tests shorten it.
	unit time.Duration

	hooksMu sync.RWMutex
	hooks   Hooks

	wg      sync.WaitGroup
	mu      sync.Mutex // guards everything below and every worker's state
	stopped bool
	pods    map[types.UID]*podProbes
}

// podProbes is a pod's latest report and its workers.
type podProbes struct {
	pod        *corev1.Pod
	podIP      string
	containers map[string]ContainerInfo
	workers    map[workerKey]*worker
	ctx        context.Context // ends with RemovePod, aborting probes in flight
	cancel     context.CancelFunc
}

type workerKey struct {
	container string
	kind      probeKind
}

// New returns a Manager; workers start with UpdatePod.
func New(opts Options) *Manager {
	m := &Manager{opts: opts, clock: opts.Clock, log: opts.Logger, unit: time.Second, pods: map[types.UID]*podProbes{}}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("component", "prober")
	m.client = newHTTPClient()
	m.hooks = Hooks{OnChange: opts.OnChange, Recorder: opts.Recorder}
	if cb := opts.OnLivenessFailure; cb != nil {
		m.hooks.OnFailure = func(f Failure) { cb(f.PodUID, f.Container, f.ContainerID, f.Message) }
	}
	return m
}

// Start blocks until ctx is done, then stops every worker (Stop).
func (m *Manager) Start(ctx context.Context) error {
	<-ctx.Done()
	m.Stop()
	return nil
}

// Stop stops every worker, aborts probes in flight and waits for the
// workers to exit. Later UpdatePod calls do nothing.
func (m *Manager) Stop() {
	m.mu.Lock()
	m.stopped = true
	for uid := range m.pods {
		m.removePodLocked(uid)
	}
	m.mu.Unlock()
	m.wg.Wait()
	m.client.CloseIdleConnections()
}

// UpdatePod tells the manager a pod's current state: containers maps
// container name → its current instance (absent: not created yet), podIP
// is the default probe host. It starts the workers the pod's probes need
// and prompts a probe at once for each container with a new instance. A
// pod in phase Succeeded or Failed has its workers stopped. The manager
// keeps pod (it does not copy or change it).
func (m *Manager) UpdatePod(pod *corev1.Pod, containers map[string]ContainerInfo, podIP string) {
	if pod == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updatePodLocked(pod, containers, podIP)
}

func (m *Manager) updatePodLocked(pod *corev1.Pod, containers map[string]ContainerInfo, podIP string) {
	if m.stopped {
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		m.removePodLocked(pod.UID)
		return
	}
	pp := m.pods[pod.UID]
	if pp == nil {
		ctx, cancel := context.WithCancel(context.Background())
		pp = &podProbes{workers: map[workerKey]*worker{}, ctx: ctx, cancel: cancel}
		m.pods[pod.UID] = pp
	}
	old := pp.containers
	pp.pod, pp.podIP = pod, podIP
	pp.containers = make(map[string]ContainerInfo, len(containers))
	for name, c := range containers {
		pp.containers[name] = c
	}
	for _, pc := range probedContainers(pod) {
		for _, kind := range []probeKind{startup, readiness, liveness} {
			spec := kind.spec(pc.container)
			if spec == nil {
				continue
			}
			key := workerKey{pc.container.Name, kind}
			w := pp.workers[key]
			if w == nil {
				w = newWorker(m, pod.UID, pc.container.Name, pc.fieldPath, kind, spec, pp.ctx)
				pp.workers[key] = w
				m.wg.Add(1)
				go w.run()
				continue
			}
			if old[pc.container.Name].ID != containers[pc.container.Name].ID {
				w.poke()
			}
		}
	}
}

// RemovePod stops the pod's workers and forgets its results. It does not
// wait for the workers to exit (Stop does).
func (m *Manager) RemovePod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removePodLocked(uid)
}

func (m *Manager) removePodLocked(uid types.UID) {
	pp := m.pods[uid]
	if pp == nil {
		return
	}
	for _, w := range pp.workers {
		w.stopLocked()
	}
	pp.cancel()
	delete(m.pods, uid)
}

// Started reports whether a container's current instance is running and
// has passed its startup probe (at once if it has none).
func (m *Manager) Started(uid types.UID, container string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	pp := m.pods[uid]
	if pp == nil {
		return false
	}
	return pp.startedLocked(container)
}

// Ready reports whether a container's current instance is started and has
// passed its readiness probe (at once if it has none).
func (m *Manager) Ready(uid types.UID, container string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	pp := m.pods[uid]
	return pp != nil && pp.readyLocked(container)
}

func (pp *podProbes) readyLocked(container string) bool {
	if !pp.startedLocked(container) {
		return false
	}
	w := pp.workers[workerKey{container, readiness}]
	if w == nil {
		return true
	}
	return w.containerID == pp.containers[container].ID && w.result == success
}

func (pp *podProbes) startedLocked(container string) bool {
	info, ok := pp.containers[container]
	if !ok || !info.Running || info.ID == "" {
		return false
	}
	w := pp.workers[workerKey{container, startup}]
	if w == nil {
		return true
	}
	return w.containerID == info.ID && w.result == success
}

// probedContainer is a container that can have probes, with its field
// path for events.
type probedContainer struct {
	container *corev1.Container
	fieldPath string
}

// probedContainers are the app containers and the sidecars (restartable
// init containers); plain init containers are not probed.
func probedContainers(pod *corev1.Pod) []probedContainer {
	var out []probedContainer
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, probedContainer{c, "spec.initContainers{" + c.Name + "}"})
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		out = append(out, probedContainer{c, "spec.containers{" + c.Name + "}"})
	}
	return out
}
