package kubelet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// syncPod brings one pod's runtime state to what its spec asks and
// reports its status. It is the pod worker's function: never run twice
// at once for a UID. The returned duration asks for another sync then
// (a backoff ending); errors are retried with backoff.
func (k *Kubelet) syncPod(ctx context.Context, uid types.UID) (time.Duration, error) {
	after, err := k.syncPodOnce(ctx, uid)
	if err != nil {
		return after, err
	}
	return k.withResync(uid, after), nil
}

// withResync adds the pod's periodic resync to a sync's requeue: each pod
// is synced again between three quarters of a ResyncPeriod and a whole
// one after its last sync, as upstream's pod workers requeue themselves
// with jitter.
// Pods so come up for resync spread out, not all at one tick: a burst of
// a node's every pod reading the runtime at once stalls the pods that are
// starting meanwhile. Pods the kubelet is done with are not requeued.
func (k *Kubelet) withResync(uid types.UID, after time.Duration) time.Duration {
	k.mu.Lock()
	st, ok := k.pods[uid]
	live := ok && !st.deleted
	k.mu.Unlock()
	if !live {
		return after
	}
	period := int64(k.cfg.ResyncPeriod)
	resync := time.Duration(period - rand.Int64N(period/4+1))
	if after <= 0 || resync < after {
		return resync
	}
	return after
}

// syncPodOnce is one sync of the pod; see syncPod.
func (k *Kubelet) syncPodOnce(ctx context.Context, uid types.UID) (time.Duration, error) {
	pod, gone, deleted, known := k.snapshot(uid)
	pr, err := k.readPodRuntime(ctx, uid)
	if err != nil {
		return 0, err
	}
	switch {
	case !known || gone || pod == nil:
		return 0, k.cleanupPod(ctx, uid, pod, pr)
	case deleted:
		return 0, nil // our final delete went through; the informer will catch up
	case pod.DeletionTimestamp != nil:
		return 0, k.terminatePod(ctx, pod, pr)
	case isTerminalPhase(pod.Status.Phase) || k.isTerminal(uid):
		return 0, k.syncTerminalPod(ctx, pod, pr)
	}
	return k.syncActivePod(ctx, pod, pr)
}

func (k *Kubelet) isTerminal(uid types.UID) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, ok := k.pods[uid]
	return ok && st.terminal
}

// requeue keeps the earliest time a pod must be synced again.
type requeue struct{ at time.Time }

func (r *requeue) add(t time.Time) {
	if !t.IsZero() && (r.at.IsZero() || t.Before(r.at)) {
		r.at = t
	}
}

func (r *requeue) after(now time.Time) time.Duration {
	if r.at.IsZero() {
		return 0
	}
	if d := r.at.Sub(now); d > 0 {
		return d
	}
	return time.Millisecond
}

// syncActivePod runs a pod that should be running: volumes, sandbox, init
// containers in order, app containers, restarts with backoff; then
// reports status, and stops the pod once it is finished.
func (k *Kubelet) syncActivePod(ctx context.Context, pod *corev1.Pod, pr *podRuntime) (time.Duration, error) {
	st := k.state(pod.UID, true)
	ctx, tr := k.startTrace(ctx)
	defer k.logTrace(tr, st, pod.Namespace+"/"+pod.Name)
	var again requeue
	now := k.clock.Now()

	if end, ok := activeDeadline(pod, now); ok {
		if !now.Before(end) {
			return 0, k.failPod(ctx, pod, pr, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
		}
		again.add(end)
	}
	k.probes.AddPod(pod)

	vols, err := k.volumes.SetUp(ctx, pod)
	traceStep(ctx, "volumes")
	if err != nil {
		k.podEvent(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: "+err.Error())
		if perr := k.postPodStatus(ctx, pod, pr, false); perr != nil {
			return 0, perr
		}
		return 2 * time.Second, nil
	}

	sb := pr.readySandbox()
	if sb == nil && !(pr.sandbox() != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && len(pr.containers) > 0) {
		// A Never pod whose sandbox died does not get another: its
		// containers' exits decide its phase.
		if sb, err = k.createSandbox(ctx, pod, pr); err != nil {
			_ = k.postPodStatus(ctx, pod, pr, false)
			return 0, err
		}
		traceStep(ctx, "sandbox")
		if pr, err = k.readPodRuntime(ctx, pod.UID); err != nil {
			return 0, err
		}
		traceStep(ctx, "readRuntime")
	}
	if sb != nil {
		if err := k.syncContainers(ctx, pod, st, pr, sb, vols, &again); err != nil {
			return 0, err
		}
		if pr, err = k.readPodRuntime(ctx, pod.UID); err != nil {
			return 0, err
		}
		traceStep(ctx, "readRuntime")
	}

	status := k.podStatus(pod, pr, false)
	if isTerminalPhase(status.Phase) {
		// Finished (restartPolicy Never/OnFailure): stop what is left
		// (sidecars) and the sandbox; the containers stay for their logs.
		k.markTerminal(st)
		k.stopPod(ctx, pod, pr, -1)
		if pr, err = k.readPodRuntime(ctx, pod.UID); err != nil {
			return 0, err
		}
		status = k.podStatus(pod, pr, true)
	}
	if err := k.updatePodStatus(ctx, pod, status); err != nil {
		return 0, err
	}
	traceStep(ctx, "status")
	k.gcContainers(ctx, pod, pr)
	return again.after(k.clock.Now()), nil
}

// syncContainers starts, restarts and kills the pod's containers in its
// ready sandbox sb.
func (k *Kubelet) syncContainers(ctx context.Context, pod *corev1.Pod, st *podState, pr *podRuntime,
	sb *runtimeapi.PodSandboxStatus, vols map[string]string, again *requeue) error {
	sbCfg, _, err := k.sandboxConfig(pod, sb.GetMetadata().GetAttempt())
	if err != nil {
		return err
	}
	podIPs := sandboxIPs(sb)
	if pod.Spec.HostNetwork {
		podIPs = []string{k.nodeIP}
	}
	if err := k.ensureHostsFile(pod, podIPs); err != nil {
		return fmt.Errorf("write hosts file: %w", err)
	}
	if k.killUnwanted(ctx, pod, st, pr, sb.Id) {
		if pr, err = k.readPodRuntime(ctx, pod.UID); err != nil {
			return err
		}
	}
	spec := func(c *corev1.Container, kind string) *startSpec {
		restarts := 0
		if latest := pr.latest(c.Name); latest != nil {
			restarts = restartCountOf(latest.Annotations) + 1
		}
		return &startSpec{pod: pod, container: c, kind: kind, restartCount: restarts,
			sandbox: sb, sandboxCfg: sbCfg, podIPs: podIPs, volumes: vols}
	}

	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		cur := pr.latestIn(ic.Name, sb.Id)
		if isSidecar(ic) {
			if cur != nil && cur.running() {
				continue
			}
			if !k.startWithBackOff(ctx, st, spec(ic, containerKindSidecar), cur, again) || ic.StartupProbe != nil {
				return nil // the next init container waits for this one to start
			}
			continue
		}
		switch {
		case cur != nil && cur.exited() && cur.ExitCode == 0:
			continue
		case cur != nil && cur.running():
		case cur != nil && cur.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			k.startCreated(ctx, pod, st, ic, cur)
		case cur != nil && cur.exited() && pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			// The pod fails; podPhase says so.
		default:
			k.startWithBackOff(ctx, st, spec(ic, containerKindInit), cur, again)
		}
		return nil // init containers run one at a time
	}

	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cur := pr.latestIn(c.Name, sb.Id)
		switch {
		case cur == nil:
			k.startWithBackOff(ctx, st, spec(c, ""), nil, again)
		case cur.running():
		case cur.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			k.startCreated(ctx, pod, st, c, cur)
		case cur.exited() && shouldRestart(pod.Spec.RestartPolicy, cur.ExitCode):
			k.startWithBackOff(ctx, st, spec(c, ""), cur, again)
		}
	}
	return nil
}

// shouldRestart applies the pod's restartPolicy to an exited container.
func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// startWithBackOff starts a container; when it replaces one that exited
// (prev), it waits out the crash backoff first: the first restart is
// immediate, then 10s doubling to 5m, measured from the exit.
func (k *Kubelet) startWithBackOff(ctx context.Context, st *podState, s *startSpec, prev *runtimeContainer, again *requeue) bool {
	if prev != nil && prev.exited() {
		key := crashKey(s.pod, s.container)
		finished := time.Unix(0, prev.FinishedAt)
		if in, delay, end := k.crashBack.InBackOffSince(key, finished); in {
			k.recorder.Eventf(containerRef(s.pod, s.container), corev1.EventTypeWarning, "BackOff",
				"Back-off restarting failed container %s in pod %s", s.container.Name, formatPod(s.pod))
			k.setWaiting(st, s.container.Name, &corev1.ContainerStateWaiting{
				Reason: reasonCrashLoopBackOff, Message: crashLoopMessage(delay, s.pod, s.container)})
			again.add(end)
			return false
		}
		k.crashBack.Next(key, finished)
	}
	// Other failures (configuration errors, say) are retried by the
	// periodic resync, as upstream's.
	started, retryAt := k.startContainer(ctx, st, s)
	again.add(retryAt)
	return started
}

// startCreated starts a container a previous sync (or kubelet) created
// but did not start.
func (k *Kubelet) startCreated(ctx context.Context, pod *corev1.Pod, st *podState, c *corev1.Container, cur *runtimeContainer) {
	if err := k.runtime.StartContainer(ctx, cur.Id); err != nil {
		msg := grpcMessage(err)
		k.recorder.Eventf(containerRef(pod, c), corev1.EventTypeWarning, "Failed", "Error: %s", msg)
		k.setWaiting(st, c.Name, &corev1.ContainerStateWaiting{Reason: reasonRunContainer, Message: msg})
		return
	}
	k.recorder.Eventf(containerRef(pod, c), corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	k.setWaiting(st, c.Name, nil)
}
