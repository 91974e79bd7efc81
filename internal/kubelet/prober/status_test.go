package prober

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func runningStatus(name, id string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, ContainerID: id,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
}

func TestStatusDrivenAPI(t *testing.T) {
	var mu sync.Mutex
	var execIDs []string
	var failures []Failure
	changed := make(chan types.UID, 100)
	m := New(Options{Exec: func(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, int, error) {
		mu.Lock()
		defer mu.Unlock()
		execIDs = append(execIDs, id)
		if cmd[0] == "fail" {
			return []byte("it hurts"), 1, nil
		}
		return nil, 0, nil
	}})
	m.unit = testUnit
	defer m.Stop()
	// The kubelet hands its side over when it starts the prober.
	m.SetHooks(Hooks{
		OnChange: func(uid types.UID) { changed <- uid },
		OnFailure: func(f Failure) {
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, f)
		},
	})
	always := corev1.ContainerRestartPolicyAlways
	grace := int64(7)
	live := execProbe("fail", 1, 2)
	live.TerminationGracePeriodSeconds = &grace
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "uid-s"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "setup"},
				{Name: "sidecar", RestartPolicy: &always, ReadinessProbe: execProbe("ok", 1, 3)},
			},
			Containers: []corev1.Container{
				{Name: "app", StartupProbe: execProbe("ok", 1, 3), LivenessProbe: live},
				{Name: "plain"},
			},
		}}
	status := func() *corev1.PodStatus {
		return &corev1.PodStatus{PodIP: "127.0.0.1",
			InitContainerStatuses: []corev1.ContainerStatus{runningStatus("setup", "containerd://i1"), runningStatus("sidecar", "containerd://s1")},
			ContainerStatuses:     []corev1.ContainerStatus{runningStatus("app", "containerd://a1"), runningStatus("plain", "containerd://p1")},
		}
	}
	check := func(st *corev1.PodStatus, want map[string][2]bool) {
		t.Helper()
		for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
			for _, cs := range list {
				w := want[cs.Name]
				if cs.Started == nil || *cs.Started != w[0] || cs.Ready != w[1] {
					t.Errorf("%s: started %v ready %v, want %v %v", cs.Name, cs.Started, cs.Ready, w[0], w[1])
				}
			}
		}
	}

	// Not registered yet: no workers, only probe-less containers are ready.
	st := status()
	m.UpdatePodStatus(pod, st)
	check(st, map[string][2]bool{"setup": {true, false}, "sidecar": {true, false}, "app": {false, false}, "plain": {true, true}})

	m.AddPod(pod)
	m.UpdatePodStatus(pod, status())
	select {
	case <-changed:
	case <-time.After(2 * time.Second):
		t.Fatal("no OnChange after the probes passed")
	}
	eventually(t, 2*time.Second, "app and sidecar ready", func() bool {
		st := status()
		m.UpdatePodStatus(pod, st)
		return st.InitContainerStatuses[1].Ready && st.ContainerStatuses[0].Ready
	})
	st = status()
	m.UpdatePodStatus(pod, st)
	check(st, map[string][2]bool{"setup": {true, false}, "sidecar": {true, true}, "app": {true, true}, "plain": {true, true}})
	m.AddPod(pod) // idempotent: keeps the instances it learned
	if !m.Ready(pod.UID, "app") {
		t.Fatal("AddPod forgot the container instances")
	}

	eventually(t, 2*time.Second, "liveness failure", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(failures) == 1
	})
	mu.Lock()
	f := failures[0]
	for _, id := range execIDs {
		if id != "a1" && id != "s1" {
			t.Errorf("exec got container id %q, want the bare CRI id", id)
		}
	}
	mu.Unlock()
	if f.PodUID != pod.UID || f.Container != "app" || f.ContainerID != "containerd://a1" || f.Probe != "Liveness" ||
		f.Output != "it hurts" || f.GracePeriodSeconds == nil || *f.GracePeriodSeconds != 7 ||
		f.Message != "Container app failed liveness probe, will be restarted" {
		t.Fatalf("failure %+v", f)
	}

	// Stopped containers are left alone.
	st = status()
	st.ContainerStatuses[1].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}
	m.UpdatePodStatus(pod, st)
	if st.ContainerStatuses[1].Started != nil {
		t.Fatal("UpdatePodStatus touched a terminated container")
	}
	m.RemovePod(pod.UID)
	st = status()
	m.UpdatePodStatus(pod, st)
	if m.Ready(pod.UID, "app") || st.ContainerStatuses[0].Ready {
		t.Fatal("UpdatePodStatus after RemovePod re-registered the pod")
	}
}
