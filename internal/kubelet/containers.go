package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// minGracePeriod is the least time a container gets to stop, as upstream.
const minGracePeriod = 2

// startContainer pulls the image, creates and starts one container
// instance, and runs its postStart hook. A failure is recorded as the
// container's waiting state (with upstream's reasons and events); retryAt
// is when a backed-off pull may be tried again.
func (k *Kubelet) startContainer(ctx context.Context, st *podState, s *startSpec) (started bool, retryAt time.Time) {
	pod, c := s.pod, s.container
	ref := containerRef(pod, c)
	fail := func(reason, msg string) {
		k.setWaiting(st, c.Name, &corev1.ContainerStateWaiting{Reason: reason, Message: msg})
	}
	traceStep(ctx, "prepare")
	pulled := k.ensureImage(ctx, s)
	traceStep(ctx, "image")
	if pulled.reason != "" {
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %s", pulled.reason)
		fail(pulled.reason, pulled.msg)
		return false, pulled.retryAt
	}
	cfg, err := k.containerConfig(ctx, s, pulled.imageRef)
	if err != nil {
		msg := grpcMessage(err)
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %s", msg)
		fail(reasonCreateContainerConfig, msg)
		return false, time.Time{}
	}
	traceStep(ctx, "config")
	id, err := k.runtime.CreateContainer(ctx, s.sandbox.Id, cfg, s.sandboxCfg)
	traceStep(ctx, "create")
	if err != nil {
		msg := grpcMessage(err)
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %s", msg)
		fail(reasonCreateContainer, msg)
		return false, time.Time{}
	}
	k.imageGC.markUsed(pulled.imageRef)
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	if err := k.runtime.StartContainer(ctx, id); err != nil {
		msg := grpcMessage(err)
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %s", msg)
		fail(reasonRunContainer, msg)
		return false, time.Time{}
	}
	traceStep(ctx, "start")
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	k.setWaiting(st, c.Name, nil)

	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		podIP := ""
		if len(s.podIPs) > 0 {
			podIP = s.podIPs[0]
		}
		if err := k.runHook(ctx, pod, c, id, c.Lifecycle.PostStart, podIP); err != nil {
			k.log.Info("postStart hook failed", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
			// The message is not in the event: it may hold secrets.
			k.recorder.Event(ref, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed")
			k.stopContainer(ctx, pod, c, id, "FailedPostStartHook", gracePeriodOf(pod), "")
			fail(reasonPostStartHook, err.Error())
			return false, time.Time{}
		}
	}
	return true, time.Time{}
}

func (k *Kubelet) setWaiting(st *podState, name string, w *corev1.ContainerStateWaiting) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if w == nil {
		delete(st.waiting, name)
	} else {
		st.waiting[name] = w
	}
}

// stopContainer runs the container's preStop hook (if the spec, or the
// annotation a previous kubelet left, has one) within the grace period,
// then asks the runtime to stop it with what is left (SIGTERM, SIGKILL at
// the end), at least minGracePeriod seconds. message is the Killing
// event's ("Stopping container <name>" when empty).
func (k *Kubelet) stopContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id, reason string, grace int64, message string) {
	if message == "" {
		message = "Stopping container " + c.Name
	}
	if pod != nil {
		k.recorder.Event(containerRef(pod, c), corev1.EventTypeNormal, "Killing", message)
	}
	start := k.clock.Now()
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 && pod != nil {
		hctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second)
		podIP := pod.Status.PodIP
		if err := k.runHook(hctx, pod, c, id, c.Lifecycle.PreStop, podIP); err != nil {
			k.log.Info("preStop hook failed", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
			k.recorder.Event(containerRef(pod, c), corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
		}
		cancel()
	}
	remaining := grace - int64(k.clock.Since(start)/time.Second)
	if remaining < minGracePeriod {
		remaining = minGracePeriod
	}
	sctx, cancel := context.WithTimeout(ctx, time.Duration(remaining+10)*time.Second)
	defer cancel()
	if err := k.runtime.StopContainer(sctx, id, remaining); err != nil && status.Code(err) != codes.NotFound {
		k.log.Info("stop container failed", "container", c.Name, "id", id, "reason", reason, "err", err)
	}
}

// stopPod stops every running container of the pod in parallel (grace
// seconds each; <0 means the pod's own grace period), then its ready
// sandboxes. pod may be nil for containers no pod owns.
func (k *Kubelet) stopPod(ctx context.Context, pod *corev1.Pod, pr *podRuntime, grace int64) {
	if grace < 0 && pod != nil {
		grace = gracePeriodOf(pod)
	}
	var wg sync.WaitGroup
	for _, rc := range pr.running() {
		spec := specForRuntime(pod, rc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.stopContainer(ctx, pod, spec, rc.Id, "Killing", grace, "")
		}()
	}
	wg.Wait()
	for _, sb := range pr.sandboxes {
		if sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			continue
		}
		if err := k.runtime.StopPodSandbox(ctx, sb.Id); err != nil && status.Code(err) != codes.NotFound {
			k.log.Info("stop sandbox failed", "id", sb.Id, "err", err)
		}
	}
}

// specForRuntime finds a runtime container's spec in the pod, or builds
// a stand-in from its annotations (a pod the kubelet no longer has).
func specForRuntime(pod *corev1.Pod, rc *runtimeContainer) *corev1.Container {
	if pod != nil {
		for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for i := range list {
				if list[i].Name == rc.name() {
					return &list[i]
				}
			}
		}
	}
	c := &corev1.Container{Name: rc.name()}
	if raw := rc.Annotations[annotationPreStopHandler]; raw != "" {
		var h corev1.LifecycleHandler
		if json.Unmarshal([]byte(raw), &h) == nil {
			c.Lifecycle = &corev1.Lifecycle{PreStop: &h}
		}
	}
	return c
}

// gracePeriodOf is the pod's termination grace period: the deletion's
// when it is being deleted, else the spec's (default 30s).
func gracePeriodOf(pod *corev1.Pod) int64 {
	if pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// crashKey names a container's restart backoff, per pod UID and
// container spec (a changed image starts over).
func crashKey(pod *corev1.Pod, c *corev1.Container) string {
	return string(pod.UID) + "/container/" + c.Name + "/" + containerHash(c)
}

// crashLoopMessage is the CrashLoopBackOff waiting message.
func crashLoopMessage(delay time.Duration, pod *corev1.Pod, c *corev1.Container) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, c.Name, formatPod(pod))
}
