package prober

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

type probeKind int

const (
	liveness probeKind = iota
	readiness
	startup
)

// String is the probe's name in events: "Liveness probe failed: ...".
func (k probeKind) String() string {
	switch k {
	case liveness:
		return "Liveness"
	case readiness:
		return "Readiness"
	}
	return "Startup"
}

func (k probeKind) spec(c *corev1.Container) *corev1.Probe {
	switch k {
	case liveness:
		return c.LivenessProbe
	case readiness:
		return c.ReadinessProbe
	}
	return c.StartupProbe
}

// result is a probe outcome. Warning (an HTTP probe that stopped at an
// off-host redirect) counts as success.
type result int

const (
	unknown result = iota
	success
	failure
	warning
)

// initial is a new container instance's result before any probe: not
// ready, not started, but alive.
func (k probeKind) initial() result {
	switch k {
	case liveness:
		return success
	case readiness:
		return failure
	}
	return unknown
}

// worker probes one container of one pod with one probe, for as long as
// the pod lives; its state is guarded by Manager.mu.
type worker struct {
	m         *Manager
	uid       types.UID
	container string
	fieldPath string
	kind      probeKind
	spec      *corev1.Probe
	ctx       context.Context
	stop      chan struct{}
	trigger   chan struct{}
	stopped   bool

	containerID string // the instance result is for
	result      result
	lastResult  result // of the last probe, and how many in a row
	resultRun   int
	onHold      bool // liveness/startup failure reported: wait for a new instance
}

func newWorker(m *Manager, uid types.UID, container, fieldPath string, kind probeKind, spec *corev1.Probe, ctx context.Context) *worker {
	return &worker{m: m, uid: uid, container: container, fieldPath: fieldPath, kind: kind, spec: spec, ctx: ctx,
		stop: make(chan struct{}), trigger: make(chan struct{}, 1), result: kind.initial()}
}

func (w *worker) stopLocked() {
	if !w.stopped {
		w.stopped = true
		close(w.stop)
	}
}

// poke asks for a probe now instead of at the next period.
func (w *worker) poke() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

func (w *worker) run() {
	defer w.m.wg.Done()
	ticker := w.m.clock.NewTicker(w.m.seconds(w.spec.PeriodSeconds, 10))
	defer ticker.Stop()
	for {
		w.probeOnce()
		select {
		case <-w.stop:
			return
		case <-ticker.C():
		case <-w.trigger:
		}
	}
}

// seconds turns a probe field into a duration, with def for unset.
func (m *Manager) seconds(v int32, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * m.unit
}

// probeOnce runs one probe if the container's state calls for one and
// folds its outcome into the result, as upstream's worker does.
func (w *worker) probeOnce() {
	m := w.m
	m.mu.Lock()
	pp := m.pods[w.uid]
	if w.stopped || pp == nil {
		m.mu.Unlock()
		return
	}
	info, ok := pp.containers[w.container]
	if !ok || info.ID == "" {
		m.mu.Unlock()
		return
	}
	changed := false
	if info.ID != w.containerID {
		prev := w.result
		w.containerID, w.result, w.lastResult, w.resultRun, w.onHold = info.ID, w.kind.initial(), unknown, 0, false
		changed = prev != w.result
	}
	if w.onHold || !info.Running {
		if !info.Running && w.kind == readiness && w.result != failure {
			w.result, changed = failure, true
		}
		m.mu.Unlock()
		w.notify(changed)
		return
	}
	started := pp.startedLocked(w.container)
	delay := m.seconds(w.spec.InitialDelaySeconds, 0)
	if (w.kind == startup) == started || m.clock.Since(info.StartedAt) < delay {
		// Startup probes stop once started; the others wait for it.
		m.mu.Unlock()
		w.notify(changed)
		return
	}
	pod, podIP := pp.pod, pp.podIP
	m.mu.Unlock()
	w.notify(changed)

	res, output, err := m.runProbe(w.ctx, w.kind, w.spec, pod, w.container, info.ID, podIP)
	w.recordEvent(pod, res, output, err)
	if err != nil {
		m.log.Debug("probe errored", "pod", pod.Namespace+"/"+pod.Name, "container", w.container,
			"probe", w.kind.String(), "err", err)
		return
	}
	w.fold(res, output, info.ID, pod)
}

// fold counts res toward the thresholds and publishes the result once
// they are met.
func (w *worker) fold(res result, output, containerID string, pod *corev1.Pod) {
	m := w.m
	if res == warning {
		res = success
	}
	m.mu.Lock()
	if w.stopped || w.containerID != containerID || w.onHold { // replaced while probing
		m.mu.Unlock()
		return
	}
	if res == w.lastResult {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = res, 1
	}
	successThreshold, failureThreshold := int(w.spec.SuccessThreshold), int(w.spec.FailureThreshold)
	if successThreshold <= 0 { // unset: the API defaults
		successThreshold = 1
	}
	if failureThreshold <= 0 {
		failureThreshold = 3
	}
	if (res == failure && w.resultRun < failureThreshold) || (res == success && w.resultRun < successThreshold) {
		m.mu.Unlock()
		return
	}
	changed := w.result != res
	w.result = res
	kill := (w.kind == liveness || w.kind == startup) && res == failure
	if kill {
		w.onHold, w.resultRun = true, 0
	}
	var wake []*worker
	if w.kind == startup && res == success && changed {
		// Started: liveness and readiness probes begin now, not a period later.
		if pp := m.pods[w.uid]; pp != nil {
			wake = append(wake, pp.workers[workerKey{w.container, liveness}], pp.workers[workerKey{w.container, readiness}])
		}
	}
	m.mu.Unlock()
	for _, o := range wake {
		if o != nil {
			o.poke()
		}
	}
	if kill {
		m.log.Info("container failed its probe; restarting", "pod", pod.Namespace+"/"+pod.Name,
			"container", w.container, "probe", w.kind.String())
		if cb := m.currentHooks().OnFailure; cb != nil {
			cb(Failure{PodUID: w.uid, Container: w.container, ContainerID: containerID, Probe: w.kind.String(),
				Output: output, GracePeriodSeconds: w.spec.TerminationGracePeriodSeconds,
				Message: fmt.Sprintf("Container %s failed %s probe, will be restarted", w.container, strings.ToLower(w.kind.String()))})
		}
	}
	w.notify(changed && w.kind != liveness)
}

func (w *worker) notify(changed bool) {
	if !changed || w.kind == liveness {
		return
	}
	if cb := w.m.currentHooks().OnChange; cb != nil {
		cb(w.uid)
	}
}

// recordEvent emits upstream's events: Unhealthy for a failed or errored
// probe, ProbeWarning for a warning.
func (w *worker) recordEvent(pod *corev1.Pod, res result, output string, err error) {
	rec := w.m.currentHooks().Recorder
	if rec == nil || (err == nil && res != failure && res != warning) {
		return
	}
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion, FieldPath: w.fieldPath}
	switch {
	case err != nil:
		rec.Eventf(ref, corev1.EventTypeWarning, "Unhealthy", "%s probe errored: %v", w.kind, err)
	case res == failure:
		rec.Eventf(ref, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", w.kind, output)
	default:
		rec.Eventf(ref, corev1.EventTypeWarning, "ProbeWarning", "%s probe warning: %s", w.kind, output)
	}
}
