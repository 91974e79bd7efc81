package kubelet_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

func TestTerminationMessages(t *testing.T) {
	client, ns := controllertest.Start(t)
	startNode(t, client, "node-a")
	file := basicPod(ns, "by-file", "node-a", "sh", "-c", "echo bye > /dev/termination-log; exit 1")
	file.Spec.RestartPolicy = corev1.RestartPolicyNever
	createPod(t, client, file)
	logs := basicPod(ns, "by-logs", "node-a", "sh", "-c", "echo starting; echo boom; exit 2")
	logs.Spec.RestartPolicy = corev1.RestartPolicyNever
	logs.Spec.Containers[0].TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	createPod(t, client, logs)

	for name, want := range map[string]string{"by-file": "bye\n", "by-logs": "starting\nboom\n"} {
		got := waitPod(t, client, ns, name, 10*time.Second, func(p *corev1.Pod) error {
			if p.Status.Phase != corev1.PodFailed {
				return fmt.Errorf("phase %s", p.Status.Phase)
			}
			return nil
		})
		if msg := got.Status.ContainerStatuses[0].State.Terminated.Message; msg != want {
			t.Errorf("%s: termination message %q, want %q", name, msg, want)
		}
	}
}

func TestActiveDeadlineFailsPod(t *testing.T) {
	client, ns := controllertest.Start(t)
	startNode(t, client, "node-a")
	pod := basicPod(ns, "deadline", "node-a", "sleep", "3600")
	one := int64(1)
	pod.Spec.ActiveDeadlineSeconds = &one
	createPod(t, client, pod)
	got := waitPod(t, client, ns, "deadline", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	if got.Status.Reason != "DeadlineExceeded" || got.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("reason %q message %q", got.Status.Reason, got.Status.Message)
	}
	if got.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Errorf("container not stopped: %+v", got.Status.ContainerStatuses[0].State)
	}
}

func TestSidecarStartsBeforeAppAndStopsWithJob(t *testing.T) {
	client, ns := controllertest.Start(t)
	startNode(t, client, "node-a")
	always := corev1.ContainerRestartPolicyAlways
	pod := basicPod(ns, "with-sidecar", "node-a", "sh", "-c", "sleep 0.5; exit 0")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "busybox:1.36", Command: []string{"sleep", "3600"}, RestartPolicy: &always}}
	createPod(t, client, pod)

	waitPod(t, client, ns, "with-sidecar", 10*time.Second, func(p *corev1.Pod) error {
		proxy, _ := containerState(p, "proxy")
		main, _ := containerState(p, "main")
		if proxy == nil || proxy.State.Running == nil || main == nil || main.State.Running == nil {
			return errors.New("not both running")
		}
		if c := conditionOf(p, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
			return fmt.Errorf("initialized %+v", c)
		}
		return nil
	})
	got := waitPod(t, client, ns, "with-sidecar", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	if proxy, _ := containerState(got, "proxy"); proxy.State.Terminated == nil {
		t.Errorf("sidecar still %+v after the job finished", proxy.State)
	}
}

func TestPostStartHookFailureRestartsContainer(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	n.rt.SetExecHandler(func(_, _ string, cmd []string) ([]byte, []byte, int32) { return nil, []byte("no such file"), 1 })
	pod := basicPod(ns, "hooked", "node-a", "sleep", "3600")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/setup"}}}}
	created := createPod(t, client, pod)
	waitPod(t, client, ns, "hooked", 10*time.Second, func(p *corev1.Pod) error {
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].RestartCount < 1 {
			return errors.New("not restarted")
		}
		return nil
	})
	waitEvent(t, client, created, "Warning FailedPostStartHook PostStartHook failed")
}
