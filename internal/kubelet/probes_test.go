package kubelet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// scriptedProbes is a ProbeManager whose readiness results the test sets.
type scriptedProbes struct {
	mu    sync.Mutex
	host  kubelet.ProbeHost
	ready bool
	added map[types.UID]bool
}

func (p *scriptedProbes) Start(ctx context.Context, host kubelet.ProbeHost) error {
	p.mu.Lock()
	p.host = host
	p.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (p *scriptedProbes) AddPod(pod *corev1.Pod) {
	p.mu.Lock()
	p.added[pod.UID] = true
	p.mu.Unlock()
}

func (p *scriptedProbes) RemovePod(uid types.UID) {
	p.mu.Lock()
	delete(p.added, uid)
	p.mu.Unlock()
}

func (p *scriptedProbes) UpdatePodStatus(_ *corev1.Pod, s *corev1.PodStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range s.ContainerStatuses {
		if s.ContainerStatuses[i].State.Running != nil {
			started := true
			s.ContainerStatuses[i].Started = &started
			s.ContainerStatuses[i].Ready = p.ready
		}
	}
}

func (p *scriptedProbes) setReady(uid types.UID, ready bool) {
	p.mu.Lock()
	p.ready = ready
	host := p.host
	p.mu.Unlock()
	host.ProbeResultChanged(uid)
}

func TestProbeResultsDriveReadinessAndRestarts(t *testing.T) {
	client, ns := controllertest.Start(t)
	probes := &scriptedProbes{added: map[types.UID]bool{}}
	startNode(t, client, "node-a", func(c *kubelet.Config) { c.Probes = probes })
	pod := createPod(t, client, basicPod(ns, "probed", "node-a", "sleep", "3600"))

	running := waitPod(t, client, ns, "probed", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	if c := conditionOf(running, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Message != "containers with unready status: [main]" {
		t.Errorf("ready = %+v", c)
	}
	probes.mu.Lock()
	added := probes.added[pod.UID]
	probes.mu.Unlock()
	if !added {
		t.Errorf("pod was not added to the prober")
	}

	probes.setReady(pod.UID, true)
	ready := waitPod(t, client, ns, "probed", 5*time.Second, func(p *corev1.Pod) error {
		if c := conditionOf(p, corev1.PodReady); c.Status != corev1.ConditionTrue {
			return errors.New("not ready")
		}
		return nil
	})

	probes.mu.Lock()
	host := probes.host
	probes.mu.Unlock()
	host.ContainerUnhealthy(kubelet.ProbeFailure{PodUID: pod.UID, Container: "main",
		ContainerID: ready.Status.ContainerStatuses[0].ContainerID, Probe: kubelet.LivenessProbe, Message: "HTTP probe failed"})
	restarted := waitPod(t, client, ns, "probed", 10*time.Second, func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses[0]
		if cs.RestartCount != 1 || cs.State.Running == nil {
			return fmt.Errorf("restarts %d state %+v", cs.RestartCount, cs.State)
		}
		return nil
	})
	if restarted.Status.ContainerStatuses[0].ContainerID == ready.Status.ContainerStatuses[0].ContainerID {
		t.Errorf("container was not replaced")
	}
	if lt := restarted.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 137 {
		t.Errorf("lastState = %+v", restarted.Status.ContainerStatuses[0].LastTerminationState)
	}
	waitEvent(t, client, restarted, "Normal Killing Container main failed liveness probe, will be restarted")
}
