package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestWithResyncSpreadsWithinPeriod(t *testing.T) {
	k := &Kubelet{cfg: Config{ResyncPeriod: 10 * time.Second}, pods: map[types.UID]*podState{
		"live": {}, "done": {deleted: true},
	}}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := k.withResync("live", 0)
		if d < 7500*time.Millisecond || d > 10*time.Second {
			t.Fatalf("resync after %v, want within [7.5s, 10s]", d)
		}
		seen[d.Truncate(500*time.Millisecond)] = true
	}
	if len(seen) < 3 {
		t.Errorf("resyncs not spread: %v", seen)
	}
	if d := k.withResync("live", time.Second); d != time.Second {
		t.Errorf("an earlier requeue lost: %v", d)
	}
	if d := k.withResync("live", time.Minute); d > 10*time.Second {
		t.Errorf("a later requeue kept: %v", d)
	}
	for _, uid := range []types.UID{"done", "unknown"} {
		if d := k.withResync(uid, 0); d != 0 {
			t.Errorf("%s requeued after %v", uid, d)
		}
	}
}

func TestPodChangeMattersIgnoresOwnPhaseEcho(t *testing.T) {
	pending := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}
	running := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	failed := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed}}
	if podChangeMatters(pending, running, corev1.PodRunning) {
		t.Error("the kubelet's own Running write counted as a change")
	}
	if !podChangeMatters(pending, running, corev1.PodPending) {
		t.Error("a phase someone else wrote did not count")
	}
	if !podChangeMatters(running, failed, corev1.PodFailed) {
		t.Error("a terminal phase did not count")
	}
}
