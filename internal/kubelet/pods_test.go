package kubelet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

func TestPodRunsAndReportsStatus(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	pod := basicPod(ns, "web", "node-a", "sleep", "3600")
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
	pod = createPod(t, client, pod)

	got := waitPod(t, client, ns, "web", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		if c := conditionOf(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
			return errors.New("not ready")
		}
		return nil
	})
	cs := got.Status.ContainerStatuses
	if len(cs) != 1 {
		t.Fatalf("container statuses = %v", cs)
	}
	c := cs[0]
	if c.State.Running == nil || !c.Ready || c.Started == nil || !*c.Started || c.RestartCount != 0 ||
		!strings.HasPrefix(c.ContainerID, "fake://") || c.Image != "docker.io/library/busybox:1.36" ||
		!strings.HasPrefix(c.ImageID, "docker.io/library/busybox@sha256:") {
		t.Errorf("container status = %+v", c)
	}
	if !strings.HasPrefix(got.Status.PodIP, "10.88.") || len(got.Status.PodIPs) != 1 || got.Status.HostIP != "10.0.0.10" ||
		got.Status.StartTime == nil || got.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("pod status = ip %q ips %v host %q start %v qos %s", got.Status.PodIP, got.Status.PodIPs,
			got.Status.HostIP, got.Status.StartTime, got.Status.QOSClass)
	}
	var types []string
	for _, c := range got.Status.Conditions {
		types = append(types, string(c.Type)+"="+string(c.Status))
	}
	if strings.Join(types, ",") != "PodReadyToStartContainers=True,Initialized=True,Ready=True,ContainersReady=True,PodScheduled=True" {
		t.Errorf("conditions = %v", types)
	}

	// What the runtime was asked for.
	sbs, _ := n.rt.ListPodSandbox(context.Background(), nil)
	if len(sbs) != 1 {
		t.Fatalf("sandboxes = %d", len(sbs))
	}
	sbCfg, _ := n.rt.SandboxConfig(sbs[0].Id)
	if sbCfg.Hostname != "web" || sbCfg.LogDirectory != n.cfg.PodLogsDir+"/"+ns+"_web_"+string(pod.UID) ||
		sbCfg.Linux.CgroupParent != "/kubepods/burstable/pod"+string(pod.UID) ||
		len(sbCfg.PortMappings) != 1 || sbCfg.PortMappings[0].HostPort != 8080 {
		t.Errorf("sandbox config = %+v", sbCfg)
	}
	dns := sbCfg.DnsConfig
	if strings.Join(dns.Servers, ",") != "10.43.0.10" ||
		strings.Join(dns.Searches, " ") != ns+".svc.cluster.local svc.cluster.local cluster.local" ||
		strings.Join(dns.Options, ",") != "ndots:5" {
		t.Errorf("dns = %+v", dns)
	}
	id := strings.TrimPrefix(c.ContainerID, "fake://")
	cfg, _ := n.rt.ContainerConfig(id)
	res := cfg.Linux.Resources
	if res.CpuShares != 256 || res.CpuQuota != 50000 || res.CpuPeriod != 100000 || res.MemoryLimitInBytes != 128<<20 {
		t.Errorf("resources = %+v", res)
	}
	if res.OomScoreAdj < 2 || res.OomScoreAdj > 999 {
		t.Errorf("burstable oom_score_adj = %d", res.OomScoreAdj)
	}
	if cfg.LogPath != "main/0.log" || cfg.Labels["io.kubernetes.pod.uid"] != string(pod.UID) || cfg.Annotations["io.kubernetes.container.restartCount"] != "0" {
		t.Errorf("container config = log %q labels %v annotations %v", cfg.LogPath, cfg.Labels, cfg.Annotations)
	}
	hasHosts, hasTermLog := false, false
	for _, m := range cfg.Mounts {
		hasHosts = hasHosts || m.ContainerPath == "/etc/hosts"
		hasTermLog = hasTermLog || m.ContainerPath == "/dev/termination-log"
	}
	if !hasHosts || !hasTermLog {
		t.Errorf("mounts = %v", cfg.Mounts)
	}

	for _, want := range []string{
		"Normal Pulling Pulling image \"busybox:1.36\"",
		"Normal Pulled Successfully pulled image \"busybox:1.36\" in ",
		"Normal Created Created container: main",
		"Normal Started Started container main",
	} {
		waitEvent(t, client, got, want)
	}
}

func TestRestartNeverExitCodeFails(t *testing.T) {
	client, ns := controllertest.Start(t)
	startNode(t, client, "node-a")
	pod := basicPod(ns, "fails", "node-a", "sh", "-c", "exit 3")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	createPod(t, client, pod)
	got := waitPod(t, client, ns, "fails", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	term := got.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 3 || term.Reason != "Error" || term.FinishedAt.IsZero() ||
		!strings.HasPrefix(term.ContainerID, "fake://") {
		t.Fatalf("terminated = %+v", term)
	}
	if c := conditionOf(got, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "PodFailed" {
		t.Errorf("ready condition = %+v", c)
	}
	// A finished pod stays finished: no restart.
	time.Sleep(1500 * time.Millisecond)
	again := waitPod(t, client, ns, "fails", time.Second, func(*corev1.Pod) error { return nil })
	if again.Status.ContainerStatuses[0].RestartCount != 0 || again.Status.Phase != corev1.PodFailed {
		t.Errorf("after a while: %+v", again.Status)
	}
}

func TestRestartNeverSucceeds(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	pod := basicPod(ns, "job", "node-a", "sh", "-c", "echo done; exit 0")
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	createPod(t, client, pod)
	got := waitPod(t, client, ns, "job", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	if term := got.Status.ContainerStatuses[0].State.Terminated; term == nil || term.Reason != "Completed" {
		t.Fatalf("state = %+v", got.Status.ContainerStatuses[0].State)
	}
	if c := conditionOf(got, corev1.PodInitialized); c.Reason != "PodCompleted" {
		t.Errorf("initialized = %+v", c)
	}
	// The sandbox is stopped, the container kept (for logs).
	controllertest.Eventually(t, 5*time.Second, func() error {
		sbs, _ := n.rt.ListPodSandbox(context.Background(), nil)
		if len(sbs) != 1 || sbs[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
			return fmt.Errorf("sandboxes %v", sbs)
		}
		return nil
	})
	ctrs, _ := n.rt.ListContainers(context.Background(), nil)
	if len(ctrs) != 1 {
		t.Errorf("containers = %d", len(ctrs))
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	pod := createPod(t, client, basicPod(ns, "crash", "node-a", "sh", "-c", "exit 1"))

	got := waitPod(t, client, ns, "crash", 20*time.Second, func(p *corev1.Pod) error {
		if len(p.Status.ContainerStatuses) == 0 {
			return errors.New("no status")
		}
		cs := p.Status.ContainerStatuses[0]
		if cs.RestartCount < 2 || cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" {
			return fmt.Errorf("restarts %d state %+v", cs.RestartCount, cs.State)
		}
		return nil
	})
	cs := got.Status.ContainerStatuses[0]
	if got.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running (restartPolicy Always)", got.Status.Phase)
	}
	wantMsg := fmt.Sprintf("back-off %s restarting failed container=main pod=crash_%s(%s)", "2s", ns, pod.UID)
	if cs.State.Waiting.Message != wantMsg && !strings.HasPrefix(cs.State.Waiting.Message, "back-off ") {
		t.Errorf("waiting message = %q", cs.State.Waiting.Message)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" {
		t.Errorf("lastState = %+v", cs.LastTerminationState)
	}
	if c := conditionOf(got, corev1.ContainersReady); c.Status != corev1.ConditionFalse ||
		c.Message != "containers with unready status: [main]" {
		t.Errorf("containersReady = %+v", c)
	}

	// Restarts are spaced by the backoff: immediate, then ≥1s, ≥2s.
	ctrs, _ := n.rt.ListContainers(context.Background(), nil)
	var starts []time.Time
	for _, c := range ctrs {
		st, _ := n.rt.ContainerStatus(context.Background(), c.Id, false)
		starts = append(starts, time.Unix(0, st.Status.StartedAt))
	}
	if len(starts) < 2 {
		t.Fatalf("containers = %d", len(starts))
	}
	// starts are oldest first (the fake lists by creation time); GC keeps
	// the newest two, restarts 1 and 2 at least, which are ≥1s apart.
	last := len(starts) - 1
	if gap := starts[last].Sub(starts[last-1]); gap < 900*time.Millisecond {
		t.Errorf("restart gap %v, want ≥1s backoff", gap)
	}
	waitEvent(t, client, got, "Warning BackOff Back-off restarting failed container main in pod crash_"+ns)
}

func TestImagePullBackOff(t *testing.T) {
	client, ns := controllertest.Start(t)
	startNode(t, client, "node-a")
	pod := basicPod(ns, "nosuch", "node-a")
	pod.Spec.Containers[0].Image = "example.com/nosuch:1.0"
	w, err := client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=nosuch"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	createPod(t, client, pod)

	// The reasons go ErrImagePull → ImagePullBackOff → ErrImagePull ...
	var reasons []string
	var got *corev1.Pod
	timeout := time.After(15 * time.Second)
	for len(reasons) < 3 {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				continue
			}
			got = p
			wt := p.Status.ContainerStatuses[0].State.Waiting
			if len(reasons) == 0 || reasons[len(reasons)-1] != wt.Reason {
				reasons = append(reasons, wt.Reason)
			}
			switch wt.Reason {
			case "ErrImagePull":
				if !strings.Contains(wt.Message, "example.com/nosuch:1.0: not found") {
					t.Errorf("ErrImagePull message = %q", wt.Message)
				}
			case "ImagePullBackOff":
				if wt.Message != `Back-off pulling image "example.com/nosuch:1.0"` {
					t.Errorf("backoff message = %q", wt.Message)
				}
			}
		case <-timeout:
			t.Fatalf("reasons so far: %v", reasons)
		}
	}
	if strings.Join(reasons, ",") != "ContainerCreating,ErrImagePull,ImagePullBackOff" &&
		strings.Join(reasons[:3], ",") != "ErrImagePull,ImagePullBackOff,ErrImagePull" {
		t.Errorf("reasons = %v", reasons)
	}
	if got.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s", got.Status.Phase)
	}
	for _, want := range []string{
		`Normal Pulling Pulling image "example.com/nosuch:1.0"`,
		`Warning Failed Failed to pull image "example.com/nosuch:1.0": rpc error: code = NotFound desc = failed to pull and unpack image`,
		`Warning Failed Error: ErrImagePull`,
		`Normal BackOff Back-off pulling image "example.com/nosuch:1.0"`,
		`Warning Failed Error: ImagePullBackOff`,
	} {
		waitEvent(t, client, got, want)
	}
}

func TestInitContainersRunInOrder(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	pod := basicPod(ns, "inits", "node-a", "sleep", "3600")
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "first", Image: "busybox:1.36", Command: []string{"sh", "-c", "sleep 0.3"}},
		{Name: "second", Image: "busybox:1.36", Command: []string{"sh", "-c", "exit 0"}},
	}
	createPod(t, client, pod)

	// While the first runs, the pod is initializing.
	waitPod(t, client, ns, "inits", 10*time.Second, func(p *corev1.Pod) error {
		c := conditionOf(p, corev1.PodInitialized)
		if c == nil || c.Status != corev1.ConditionFalse || c.Message != "containers with incomplete status: [first second]" {
			return fmt.Errorf("initialized = %+v", c)
		}
		if cs, _ := containerState(p, "main"); cs == nil || cs.State.Waiting == nil || cs.State.Waiting.Reason != "PodInitializing" {
			return fmt.Errorf("main = %+v", cs)
		}
		return nil
	})
	got := waitPod(t, client, ns, "inits", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	for _, ics := range got.Status.InitContainerStatuses {
		if ics.State.Terminated == nil || ics.State.Terminated.ExitCode != 0 || !ics.Ready {
			t.Errorf("init %s = %+v ready %v", ics.Name, ics.State, ics.Ready)
		}
	}
	// Creation order in the runtime: first, second, main.
	ctrs, _ := n.rt.ListContainers(context.Background(), nil)
	var order []string
	for _, c := range ctrs {
		order = append(order, c.Metadata.Name)
	}
	if strings.Join(order, ",") != "first,second,main" {
		t.Errorf("start order = %v", order)
	}
	first, _ := containerState(got, "first")
	second, _ := containerState(got, "second")
	if second.State.Terminated.StartedAt.Before(&first.State.Terminated.FinishedAt) {
		t.Errorf("second started before first finished")
	}
}

func TestInitContainerFailureWithNeverFailsPod(t *testing.T) {
	client, ns := controllertest.Start(t)
	n := startNode(t, client, "node-a")
	pod := basicPod(ns, "badinit", "node-a", "sleep", "3600")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox:1.36", Command: []string{"sh", "-c", "exit 2"}}}
	createPod(t, client, pod)
	waitPod(t, client, ns, "badinit", 10*time.Second, func(p *corev1.Pod) error {
		if p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	ctrs, _ := n.rt.ListContainers(context.Background(), nil)
	for _, c := range ctrs {
		if c.Metadata.Name == "main" {
			t.Errorf("main container was started after a failed init container")
		}
	}
}
