package kubelet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/cri/fake"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/kubelet/prober"
)

// proberAdapter fits internal/kubelet/prober's Manager to ProbeManager:
// the wiring a node agent needs (hooks are handed over at Start).
type proberAdapter struct{ *prober.Manager }

func (a proberAdapter) Start(ctx context.Context, host kubelet.ProbeHost) error {
	a.SetHooks(prober.Hooks{
		OnFailure: func(f prober.Failure) {
			host.ContainerUnhealthy(kubelet.ProbeFailure{PodUID: f.PodUID, Container: f.Container, ContainerID: f.ContainerID,
				Probe: kubelet.ProbeType(f.Probe), Message: f.Output})
		},
		OnChange: host.ProbeResultChanged,
		Recorder: host.Recorder(),
	})
	return a.Manager.Start(ctx)
}

// execThroughCRI runs exec probes with the runtime's ExecSync.
func execThroughCRI(rt *fake.Runtime) prober.ExecFunc {
	return func(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int, error) {
		if i := strings.Index(id, "://"); i >= 0 {
			id = id[i+3:]
		}
		out, _, err := rt.ExecSync(ctx, id, cmd, timeout)
		var exit utilexec.CodeExitError
		if errors.As(err, &exit) {
			return out, exit.Code, nil
		}
		return out, 0, err
	}
}

func TestWithTheProber(t *testing.T) {
	client, ns := controllertest.Start(t)
	rt := newFakeRuntime(t)
	var healthy atomic.Bool
	healthy.Store(true)
	rt.SetExecHandler(func(_, _ string, cmd []string) ([]byte, []byte, int32) {
		if healthy.Load() {
			return []byte("ok"), nil, 0
		}
		return []byte("cat: /tmp/healthy: No such file or directory"), nil, 1
	})
	cfg := testConfig(t, client, rt, "node-a")
	cfg.Probes = proberAdapter{prober.New(prober.Options{Exec: execThroughCRI(rt), Logger: testLogger()})}
	runNode(t, cfg)

	pod := basicPod(ns, "live", "node-a", "sleep", "3600")
	check := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
		PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 1}
	pod.Spec.Containers[0].LivenessProbe = check
	pod.Spec.Containers[0].ReadinessProbe = check.DeepCopy()
	created := createPod(t, client, pod)
	first := waitPod(t, client, ns, "live", 15*time.Second, func(p *corev1.Pod) error {
		if c := conditionOf(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
			return errors.New("not ready")
		}
		return nil
	})

	healthy.Store(false)
	restarted := waitPod(t, client, ns, "live", 15*time.Second, func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses[0]
		if cs.RestartCount < 1 {
			return fmt.Errorf("restarts %d ready %v", cs.RestartCount, cs.Ready)
		}
		return nil
	})
	if restarted.Status.ContainerStatuses[0].ContainerID == first.Status.ContainerStatuses[0].ContainerID {
		t.Errorf("container not replaced")
	}
	waitEvent(t, client, created, "Warning Unhealthy Liveness probe failed: cat: /tmp/healthy: No such file or directory")
	waitEvent(t, client, created, "Normal Killing Container main failed liveness probe, will be restarted")

	healthy.Store(true)
	waitPod(t, client, ns, "live", 15*time.Second, func(p *corev1.Pod) error {
		if c := conditionOf(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
			return errors.New("not ready again")
		}
		return nil
	})
}
