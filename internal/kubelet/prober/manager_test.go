package prober

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
)

// testUnit is one probe "second" in these tests, so thresholds and
// periods play out in a fraction of a second.
const testUnit = 20 * time.Millisecond

// harness is a Manager with recording callbacks and a scriptable exec.
type harness struct {
	m        *Manager
	recorder *record.FakeRecorder
	mu       sync.Mutex
	changes  int
	kills    []string // containerName/containerID: message
	execs    map[string]*atomic.Int32
	exitCode map[string]*atomic.Int32 // by command name
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{recorder: record.NewFakeRecorder(1000), execs: map[string]*atomic.Int32{}, exitCode: map[string]*atomic.Int32{}}
	for _, name := range []string{"startup", "live", "ready"} {
		h.execs[name], h.exitCode[name] = &atomic.Int32{}, &atomic.Int32{}
	}
	h.m = New(Options{
		Exec: func(ctx context.Context, id string, cmd []string, _ time.Duration) ([]byte, int, error) {
			h.execs[cmd[0]].Add(1)
			code := int(h.exitCode[cmd[0]].Load())
			return []byte(cmd[0] + " exit " + string(rune('0'+code))), code, nil
		},
		OnLivenessFailure: func(uid types.UID, name, id, msg string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.kills = append(h.kills, name+"/"+id+": "+msg)
		},
		OnChange: func(types.UID) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.changes++
		},
		Recorder: h.recorder,
	})
	h.m.unit = testUnit
	t.Cleanup(h.m.Stop)
	return h
}

func (h *harness) killed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.kills...)
}

func execProbe(cmd string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}},
		PeriodSeconds: period, FailureThreshold: failures, SuccessThreshold: 1, TimeoutSeconds: 1}
}

func testPod(c corev1.Container) *corev1.Pod {
	c.Name = "app"
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
}

func running(id string) map[string]ContainerInfo {
	return map[string]ContainerInfo{"app": {ID: id, StartedAt: time.Now(), Running: true}}
}

// eventually polls cond every 5ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// events drains the fake recorder.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestReadyWithoutReadinessProbe(t *testing.T) {
	h := newHarness(t)
	pod := testPod(corev1.Container{})
	if h.m.Ready(pod.UID, "app") || h.m.Started(pod.UID, "app") {
		t.Fatal("unknown pod is ready")
	}
	h.m.UpdatePod(pod, map[string]ContainerInfo{"app": {ID: "c1", Running: false}}, "127.0.0.1")
	if h.m.Ready(pod.UID, "app") {
		t.Fatal("container not running yet, but ready")
	}
	h.m.UpdatePod(pod, running("c1"), "127.0.0.1")
	if !h.m.Ready(pod.UID, "app") || !h.m.Started(pod.UID, "app") {
		t.Fatal("running container without probes is not ready and started")
	}
}

func TestReadinessHTTPProbe(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	host, port := splitHostPort(t, srv.Listener.Addr().String())
	h := newHarness(t)
	pod := testPod(corev1.Container{ReadinessProbe: &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(int32(port))}},
		PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 2, TimeoutSeconds: 5,
	}})
	h.m.UpdatePod(pod, running("c1"), host)
	time.Sleep(5 * testUnit)
	if h.m.Ready(pod.UID, "app") {
		t.Fatal("ready while the probe fails")
	}
	if ev := strings.Join(h.events(), "\n"); !strings.Contains(ev,
		"Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 500") {
		t.Fatalf("events: %s", ev)
	}
	healthy.Store(true)
	eventually(t, 2*time.Second, "ready", func() bool { return h.m.Ready(pod.UID, "app") })
	changes := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.changes
	}
	eventually(t, time.Second, "OnChange", func() bool { return changes() > 0 })
	time.Sleep(3 * testUnit)
	if changes := changes(); changes != 1 {
		t.Fatalf("OnChange called %d times, want 1", changes)
	}
	healthy.Store(false)
	start := time.Now()
	eventually(t, 2*time.Second, "not ready", func() bool { return !h.m.Ready(pod.UID, "app") })
	// failureThreshold 3 at a 1-unit period: not before the third failure.
	if took := time.Since(start); took < 2*testUnit {
		t.Fatalf("unready after %v, before failureThreshold", took)
	}
	if len(h.killed()) != 0 {
		t.Fatal("readiness failure killed the container")
	}
}

func TestLivenessFailureCallsBackOncePerInstance(t *testing.T) {
	h := newHarness(t)
	h.exitCode["live"].Store(1)
	pod := testPod(corev1.Container{LivenessProbe: execProbe("live", 1, 3)})
	h.m.UpdatePod(pod, running("c1"), "127.0.0.1")
	eventually(t, 2*time.Second, "liveness failure", func() bool { return len(h.killed()) == 1 })
	if got, want := h.killed()[0], "app/c1: Container app failed liveness probe, will be restarted"; got != want {
		t.Fatalf("callback %q, want %q", got, want)
	}
	if n := h.execs["live"].Load(); n != 3 {
		t.Fatalf("%d probes before the callback, want failureThreshold 3", n)
	}
	if ev := strings.Join(h.events(), "\n"); !strings.Contains(ev, "Warning Unhealthy Liveness probe failed: live exit 1") {
		t.Fatalf("events: %s", ev)
	}
	// On hold until the kubelet reports the restarted container.
	time.Sleep(6 * testUnit)
	if n := h.execs["live"].Load(); n != 3 || len(h.killed()) != 1 {
		t.Fatalf("probed %d times / %d callbacks while on hold", n, len(h.killed()))
	}
	h.m.UpdatePod(pod, running("c2"), "127.0.0.1")
	eventually(t, 2*time.Second, "second liveness failure", func() bool { return len(h.killed()) == 2 })
	if got := h.killed()[1]; !strings.HasPrefix(got, "app/c2: ") {
		t.Fatalf("second callback %q", got)
	}
	// A healthy restart stays up.
	h.exitCode["live"].Store(0)
	h.m.UpdatePod(pod, running("c3"), "127.0.0.1")
	time.Sleep(8 * testUnit)
	if len(h.killed()) != 2 || !h.m.Ready(pod.UID, "app") {
		t.Fatalf("healthy container: callbacks %v, ready %v", h.killed(), h.m.Ready(pod.UID, "app"))
	}
}

func TestStartupProbeGatesLivenessAndReadiness(t *testing.T) {
	h := newHarness(t)
	h.exitCode["startup"].Store(1)
	pod := testPod(corev1.Container{
		StartupProbe:   execProbe("startup", 1, 1000),
		LivenessProbe:  execProbe("live", 1, 3),
		ReadinessProbe: execProbe("ready", 1, 3),
	})
	h.m.UpdatePod(pod, running("c1"), "127.0.0.1")
	eventually(t, 2*time.Second, "startup probes", func() bool { return h.execs["startup"].Load() >= 4 })
	if h.m.Started(pod.UID, "app") || h.m.Ready(pod.UID, "app") {
		t.Fatal("started or ready before the startup probe passed")
	}
	if n := h.execs["live"].Load() + h.execs["ready"].Load(); n != 0 {
		t.Fatalf("liveness/readiness ran %d times before startup", n)
	}
	h.exitCode["startup"].Store(0)
	eventually(t, 2*time.Second, "started", func() bool { return h.m.Started(pod.UID, "app") })
	eventually(t, 2*time.Second, "ready", func() bool { return h.m.Ready(pod.UID, "app") })
	n := h.execs["startup"].Load()
	eventually(t, 2*time.Second, "liveness probes", func() bool { return h.execs["live"].Load() >= 3 })
	if h.execs["startup"].Load() != n {
		t.Fatal("startup probe kept running after success")
	}
	// A new instance must start again.
	h.exitCode["startup"].Store(1)
	h.m.UpdatePod(pod, running("c2"), "127.0.0.1")
	if h.m.Started(pod.UID, "app") || h.m.Ready(pod.UID, "app") {
		t.Fatal("new container instance inherited started/ready")
	}
}

func TestStartupFailureRestarts(t *testing.T) {
	h := newHarness(t)
	h.exitCode["startup"].Store(1)
	pod := testPod(corev1.Container{StartupProbe: execProbe("startup", 1, 2), LivenessProbe: execProbe("live", 1, 3)})
	h.m.UpdatePod(pod, running("c1"), "127.0.0.1")
	eventually(t, 2*time.Second, "startup failure", func() bool { return len(h.killed()) == 1 })
	if got := h.killed()[0]; got != "app/c1: Container app failed startup probe, will be restarted" {
		t.Fatalf("callback %q", got)
	}
	if h.execs["live"].Load() != 0 {
		t.Fatal("liveness ran without startup success")
	}
}

func TestInitialDelay(t *testing.T) {
	h := newHarness(t)
	p := execProbe("ready", 1, 3)
	p.InitialDelaySeconds = 15 // 300ms
	pod := testPod(corev1.Container{ReadinessProbe: p})
	started := time.Now()
	h.m.UpdatePod(pod, map[string]ContainerInfo{"app": {ID: "c1", StartedAt: started, Running: true}}, "")
	eventually(t, 2*time.Second, "first probe", func() bool { return h.execs["ready"].Load() > 0 })
	if since := time.Since(started); since < 15*testUnit {
		t.Fatalf("first probe %v after start, before initialDelaySeconds", since)
	}
	eventually(t, time.Second, "ready", func() bool { return h.m.Ready(pod.UID, "app") })
}

func TestNewContainerIDResetsResults(t *testing.T) {
	h := newHarness(t)
	pod := testPod(corev1.Container{ReadinessProbe: execProbe("ready", 1, 3)})
	h.m.UpdatePod(pod, running("c1"), "")
	eventually(t, time.Second, "ready", func() bool { return h.m.Ready(pod.UID, "app") })
	// The new instance starts unready even though its first probes fail
	// only once (below failureThreshold 3).
	h.exitCode["ready"].Store(1)
	n := h.execs["ready"].Load()
	h.m.UpdatePod(pod, running("c2"), "")
	eventually(t, time.Second, "probe of the new instance", func() bool { return h.execs["ready"].Load() > n })
	if h.m.Ready(pod.UID, "app") {
		t.Fatal("ready carried over to a new container instance")
	}
	h.exitCode["ready"].Store(0)
	eventually(t, time.Second, "ready again", func() bool { return h.m.Ready(pod.UID, "app") })
	// A container that stopped is not ready.
	h.m.UpdatePod(pod, map[string]ContainerInfo{"app": {ID: "c2", Running: false}}, "")
	if h.m.Ready(pod.UID, "app") {
		t.Fatal("stopped container is ready")
	}
}

func TestRemovePodAndTerminalPhaseStopWorkers(t *testing.T) {
	h := newHarness(t)
	pod := testPod(corev1.Container{ReadinessProbe: execProbe("ready", 1, 3)})
	h.m.UpdatePod(pod, running("c1"), "")
	eventually(t, time.Second, "probing", func() bool { return h.execs["ready"].Load() > 1 })
	h.m.RemovePod(pod.UID)
	time.Sleep(2 * testUnit)
	n := h.execs["ready"].Load()
	time.Sleep(5 * testUnit)
	if h.execs["ready"].Load() != n || h.m.Ready(pod.UID, "app") {
		t.Fatal("removed pod still probed or ready")
	}
	h.m.UpdatePod(pod, running("c1"), "")
	eventually(t, time.Second, "probing again", func() bool { return h.execs["ready"].Load() > n })
	done := pod.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	h.m.UpdatePod(done, running("c1"), "")
	time.Sleep(2 * testUnit)
	n = h.execs["ready"].Load()
	time.Sleep(5 * testUnit)
	if h.execs["ready"].Load() != n {
		t.Fatal("finished pod still probed")
	}
}

// The real second: a 1s period probe becomes ready within about a second.
func TestRealTimeUnit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	host, port := splitHostPort(t, srv.Listener.Addr().String())
	m := New(Options{})
	defer m.Stop()
	pod := testPod(corev1.Container{ReadinessProbe: &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}},
		PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}})
	m.UpdatePod(pod, running("c1"), host)
	eventually(t, 3*time.Second, "ready", func() bool { return m.Ready(pod.UID, "app") })
}

func TestNoGoroutineLeak(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	host, port := splitHostPort(t, srv.Listener.Addr().String())
	before := runtime.NumGoroutine()

	m := New(Options{Exec: func(ctx context.Context, _ string, _ []string, _ time.Duration) ([]byte, int, error) {
		return nil, 0, nil
	}})
	m.unit = testUnit
	for i := range 5 {
		pod := testPod(corev1.Container{
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(int32(port))}}, PeriodSeconds: 1},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, PeriodSeconds: 1},
			StartupProbe: execProbe("startup", 1, 3),
		})
		pod.UID = types.UID("uid-" + string(rune('a'+i)))
		m.UpdatePod(pod, running("c1"), host)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Start(ctx) }()
	eventually(t, 2*time.Second, "all ready", func() bool {
		for i := range 5 {
			if !m.Ready(types.UID("uid-"+string(rune('a'+i))), "app") {
				return false
			}
		}
		return true
	})
	if runtime.NumGoroutine() < before+15 {
		t.Fatalf("expected at least 15 workers running, have %d goroutines (baseline %d)", runtime.NumGoroutine(), before)
	}
	cancel()
	<-done
	srv.Close()
	eventually(t, 5*time.Second, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}
