package kubelet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/cri/fake"
)

// runtimeEmpty fails until the runtime holds nothing.
func runtimeEmpty(rt *fake.Runtime) error {
	sbs, err := rt.ListPodSandbox(context.Background(), nil)
	if err != nil {
		return err
	}
	ctrs, err := rt.ListContainers(context.Background(), nil)
	if err != nil {
		return err
	}
	if len(sbs) > 0 || len(ctrs) > 0 {
		return fmt.Errorf("runtime still has %d sandboxes, %d containers", len(sbs), len(ctrs))
	}
	return nil
}

func TestGracefulDeleteRemovesEverything(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	var mu sync.Mutex
	var execs []string
	n.rt.SetExecHandler(func(_, _ string, cmd []string) ([]byte, []byte, int32) {
		mu.Lock()
		execs = append(execs, strings.Join(cmd, " "))
		mu.Unlock()
		return nil, nil, 0
	})
	pod := basicPod(ns, "goner", "node-a", "sleep", "3600")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{
		PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"touch", "/started"}}},
		PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/drain"}}},
	}
	created := createPod(t, client, pod)
	waitPod(t, client, ns, "goner", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	if err := client.CoreV1().Pods(ns).Delete(context.Background(), "goner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 10*time.Second, func() error {
		_, err := client.CoreV1().Pods(ns).Get(context.Background(), "goner", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod still there: %v", err)
		}
		return nil
	})
	controllertest.Eventually(t, 5*time.Second, func() error { return runtimeEmpty(n.rt) })
	mu.Lock()
	got := strings.Join(execs, ";")
	mu.Unlock()
	if got != "touch /started;/bin/drain" {
		t.Errorf("hooks ran %q, want postStart then preStop", got)
	}
	waitEvent(t, client, created, "Normal Killing Stopping container main")
}

func TestForceDeleteAndOrphansAreCleanedUp(t *testing.T) {
	client, ns := controllertest.Start(t)
	rt := newFakeRuntime(t)
	// An orphan from before: a sandbox and container of a pod the API
	// server never had.
	ctx := context.Background()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "ghost", Namespace: ns, Uid: "ghost-uid"},
		Labels:   map[string]string{"io.kubernetes.pod.uid": "ghost-uid"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: "busybox"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	cid, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
		Labels: map[string]string{"io.kubernetes.pod.uid": "ghost-uid", "io.kubernetes.container.name": "c"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}
	n := runNode(t, testConfig(t, client, rt, "node-a"))
	controllertest.Eventually(t, 10*time.Second, func() error { return runtimeEmpty(n.rt) })

	createPod(t, client, basicPod(ns, "forced", "node-a", "sleep", "3600"))
	waitPod(t, client, ns, "forced", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	zero := int64(0)
	if err := client.CoreV1().Pods(ns).Delete(ctx, "forced", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 10*time.Second, func() error { return runtimeEmpty(n.rt) })
}

func TestRestartedKubeletAdoptsContainers(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	createPod(t, client, basicPod(ns, "steady", "node-a", "sleep", "3600"))
	flaky := basicPod(ns, "flaky", "node-a", "sh", "-c", "sleep 0.2; exit 1")
	createPod(t, client, flaky)
	steady := waitPod(t, client, ns, "steady", 10*time.Second, func(p *corev1.Pod) error {
		if c := conditionOf(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
			return errors.New("not ready")
		}
		return nil
	})
	waitPod(t, client, ns, "flaky", 10*time.Second, func(p *corev1.Pod) error {
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].RestartCount < 2 {
			return errors.New("not restarted twice yet")
		}
		return nil
	})
	sandboxesBefore, _ := n.rt.ListPodSandbox(context.Background(), nil)

	n.stop()
	steady = waitPod(t, client, ns, "steady", time.Second, func(*corev1.Pod) error { return nil })
	flakyStopped := waitPod(t, client, ns, "flaky", time.Second, func(*corev1.Pod) error { return nil })
	restartsBefore := flakyStopped.Status.ContainerStatuses[0].RestartCount

	cfg := n.cfg
	n2 := runNode(t, cfg)
	// Let the new kubelet relist and resync a few times.
	time.Sleep(2500 * time.Millisecond)
	after := waitPod(t, client, ns, "steady", time.Second, func(*corev1.Pod) error { return nil })
	if after.Status.ContainerStatuses[0].ContainerID != steady.Status.ContainerStatuses[0].ContainerID ||
		after.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("running container was replaced: %v → %v (restarts %d)", steady.Status.ContainerStatuses[0].ContainerID,
			after.Status.ContainerStatuses[0].ContainerID, after.Status.ContainerStatuses[0].RestartCount)
	}
	if after.ResourceVersion != steady.ResourceVersion {
		t.Errorf("steady pod written after the restart: %+v", after.Status)
	}
	if !after.Status.StartTime.Equal(steady.Status.StartTime) {
		t.Errorf("start time changed: %v → %v", steady.Status.StartTime, after.Status.StartTime)
	}
	sandboxesAfter, _ := n2.rt.ListPodSandbox(context.Background(), nil)
	if len(sandboxesAfter) != len(sandboxesBefore) {
		t.Errorf("sandboxes %d → %d", len(sandboxesBefore), len(sandboxesAfter))
	}
	for i := range sandboxesBefore {
		if sandboxesAfter[i].Id != sandboxesBefore[i].Id {
			t.Errorf("sandbox %d replaced", i)
		}
	}
	flakyAfter := waitPod(t, client, ns, "flaky", time.Second, func(*corev1.Pod) error { return nil })
	if got := flakyAfter.Status.ContainerStatuses[0].RestartCount; got < restartsBefore {
		t.Errorf("restart count went back: %d → %d", restartsBefore, got)
	}
}
