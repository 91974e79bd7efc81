package kubelet_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/cri/fake"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// testNode is a kubelet under test with its fake runtime.
type testNode struct {
	t       *testing.T
	k       *kubelet.Kubelet
	rt      *fake.Runtime
	client  kubernetes.Interface
	cfg     kubelet.Config
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

func testLogger() *slog.Logger {
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a kubelet config with fast loops and short backoffs.
func testConfig(t *testing.T, client kubernetes.Interface, rt *fake.Runtime, node string) kubelet.Config {
	return kubelet.Config{
		NodeName:                  node,
		Client:                    client,
		Runtime:                   rt,
		Images:                    rt,
		RootDir:                   t.TempDir(),
		PodLogsDir:                t.TempDir(),
		ClusterDNS:                []string{"10.43.0.10"},
		ResolvConf:                "-",
		NodeIP:                    "10.0.0.10",
		Logger:                    testLogger(),
		NodeStatusUpdateFrequency: 200 * time.Millisecond,
		NodeLeaseRenewInterval:    200 * time.Millisecond,
		RelistPeriod:              100 * time.Millisecond,
		ResyncPeriod:              time.Second,
		CrashLoopBackOffInitial:   time.Second,
		CrashLoopBackOffMax:       4 * time.Second,
		ImagePullBackOffInitial:   time.Second,
		ImagePullBackOffMax:       4 * time.Second,
	}
}

func newFakeRuntime(t *testing.T) *fake.Runtime {
	t.Helper()
	rt, err := fake.New(fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// startNode runs a kubelet for node on a fresh fake runtime until the
// test ends.
func startNode(t *testing.T, client kubernetes.Interface, node string, tweak ...func(*kubelet.Config)) *testNode {
	t.Helper()
	cfg := testConfig(t, client, newFakeRuntime(t), node)
	for _, f := range tweak {
		f(&cfg)
	}
	return runNode(t, cfg)
}

func runNode(t *testing.T, cfg kubelet.Config) *testNode {
	t.Helper()
	k, err := kubelet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{t: t, k: k, rt: cfg.Runtime.(*fake.Runtime), client: cfg.Client, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- k.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

// stop ends the kubelet and waits for Run to return.
func (n *testNode) stop() {
	if n.stopped {
		return
	}
	n.stopped = true
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("kubelet Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		n.t.Errorf("kubelet did not stop")
	}
}

// basicPod is a pod bound to node running one busybox container.
func basicPod(ns, name, node string, command ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{
				Name: "main", Image: "busybox:1.36", Command: command,
			}},
		},
	}
}

func createPod(t *testing.T, client kubernetes.Interface, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	created, err := client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	return created
}

// waitPod polls the pod until cond passes.
func waitPod(t *testing.T, client kubernetes.Interface, ns, name string, timeout time.Duration, cond func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	controllertest.Eventually(t, timeout, func() error {
		p, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = p
		return cond(p)
	})
	return pod
}

func containerState(p *corev1.Pod, name string) (*corev1.ContainerStatus, error) {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no status for container %s (phase %s)", name, p.Status.Phase)
}

// podEvents lists the pod's events as "Type Reason Message" lines, in
// the order they first happened.
func podEvents(t *testing.T, client kubernetes.Interface, pod *corev1.Pod) []string {
	t.Helper()
	list, err := client.CoreV1().Events(pod.Namespace).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod.Name).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		return list.Items[i].FirstTimestamp.Before(&list.Items[j].FirstTimestamp)
	})
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Type+" "+e.Reason+" "+e.Message)
	}
	return out
}

// waitEvent waits for an event of the pod starting with prefix (events
// are written asynchronously).
func waitEvent(t *testing.T, client kubernetes.Interface, pod *corev1.Pod, prefix string) {
	t.Helper()
	var events []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if events = podEvents(t, client, pod); hasEvent(events, prefix) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("no event %q among %q", prefix, events)
}

func hasEvent(events []string, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// nodeReady is the node's Ready condition status.
func nodeReady(s *corev1.NodeStatus) corev1.ConditionStatus {
	for _, c := range s.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func conditionOf(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
