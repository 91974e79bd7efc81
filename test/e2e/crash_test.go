package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

// component is a `skiff controller-manager` or `skiff scheduler` process
// with short leader-election timings, so that a replacement takes over a
// second after the previous one is killed.
type component struct {
	t    *testing.T
	s    *server
	name string
	cmd  *exec.Cmd
	n    int
}

func startComponent(t *testing.T, s *server, name string) *component {
	c := &component{t: t, s: s, name: name}
	c.start()
	t.Cleanup(c.kill)
	return c
}

func (c *component) start() {
	c.t.Helper()
	c.n++
	logf, err := os.Create(filepath.Join(c.s.dir, fmt.Sprintf("%s-%d.log", c.name, c.n)))
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	c.cmd = exec.Command(skiffBin, c.name, "--kubeconfig", c.s.kubeconfig(),
		"--leader-elect-lease-duration=1s", "--leader-elect-renew-deadline=700ms", "--leader-elect-retry-period=100ms",
		"--metrics-bind-address=")
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", c.name, err)
	}
}

// kill SIGKILLs the process: no lease release, no graceful stop.
func (c *component) kill() {
	if c.cmd == nil {
		return
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	_ = c.cmd.Wait()
	c.cmd = nil
}

func adminClient(t *testing.T, s *server) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// podLog watches the pods of a namespace from the start and remembers
// every pod ever created, the most that were active (not deleting) at
// once, and any pod whose node changed after it was bound.
type podLog struct {
	mu        sync.Mutex
	created   map[types.UID]bool
	active    map[types.UID]bool
	maxActive int
	node      map[types.UID]string
	rebound   []string
}

func watchPods(t *testing.T, client kubernetes.Interface, ns string) *podLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l := &podLog{created: map[types.UID]bool{}, active: map[types.UID]bool{}, node: map[types.UID]string{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			l.mu.Lock()
			l.created[p.UID] = true
			if ev.Type == watch.Deleted || p.DeletionTimestamp != nil {
				delete(l.active, p.UID)
			} else {
				l.active[p.UID] = true
			}
			l.maxActive = max(l.maxActive, len(l.active))
			if prev := l.node[p.UID]; prev != "" && p.Spec.NodeName != prev {
				l.rebound = append(l.rebound, fmt.Sprintf("%s: %s -> %s", p.Name, prev, p.Spec.NodeName))
			}
			if p.Spec.NodeName != "" {
				l.node[p.UID] = p.Spec.NodeName
			}
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return l
}

func (l *podLog) counts() (created, active, maxActive int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.created), len(l.active), l.maxActive
}

// TestControllerManagerKilledDuringScaleUp: the controller manager is
// SIGKILLed at a random moment of each of 20 scale-ups of a Deployment
// from 0 to 20 replicas. Its replacement must finish the job from what the
// API says (expectations are not persisted), never creating a pod too many.
func TestControllerManagerKilledDuringScaleUp(t *testing.T) {
	t.Parallel()
	s := startTestServer(t, "--disable-controller-manager", "--disable-scheduler")
	client := adminClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const ns, replicas, rounds = "default", 20, 20
	pods := watchPods(t, client, ns)
	s.mustKubectl(t, "create", "deployment", "web", "--image=busybox:1.36", "--replicas=0", "--", "sleep", "3600")
	cm := startComponent(t, s, "controller-manager")

	waitActive := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			_, active, _ := pods.counts()
			d, err := client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err == nil && active == want && d.Status.Replicas == int32(want) && d.Status.ObservedGeneration == d.Generation {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d active pods (want %d), deployment status %+v, err %v", what, active, want, d.Status, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for round := 1; round <= rounds; round++ {
		s.mustKubectl(t, "scale", "deploy/web", "--replicas="+strconv.Itoa(replicas))
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		cm.kill()
		createdAtKill, _, _ := pods.counts()
		cm.start()
		waitActive(replicas, fmt.Sprintf("round %d scale-up (killed after %d of %d creations)",
			round, createdAtKill-(round-1)*replicas, replicas))
		if created, _, _ := pods.counts(); created != round*replicas {
			t.Fatalf("round %d: %d pods created in all, want exactly %d", round, created, round*replicas)
		}
		s.mustKubectl(t, "scale", "deploy/web", "--replicas=0")
		waitActive(0, fmt.Sprintf("round %d scale-down", round))
	}
	created, _, maxActive := pods.counts()
	if maxActive > replicas {
		t.Errorf("at one moment %d pods were active, want never more than %d", maxActive, replicas)
	}
	t.Logf("%d rounds: %d pods created, at most %d active at once", rounds, created, maxActive)
}

// TestSchedulerKilledMidBatch: the scheduler is SIGKILLed several times
// while binding a batch of pods. Every pod must end up bound exactly once:
// none is left behind and none moves to another node.
func TestSchedulerKilledMidBatch(t *testing.T) {
	t.Parallel()
	s := startTestServer(t, "--disable-scheduler")
	client := adminClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns, total = "default", 300
	controllertest.StartNodes(t, client, controllertest.NodeOptions{CPU: "64", Pods: "110"},
		"node-1", "node-2", "node-3", "node-4", "node-5")
	pods := watchPods(t, client, ns)
	s.mustKubectl(t, "create", "deployment", "batch", "--image=busybox:1.36", "--replicas="+strconv.Itoa(total), "--", "sleep", "3600")

	sched := startComponent(t, s, "scheduler")
	for kill := 0; kill < 5; kill++ {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		sched.kill()
		sched.start()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bound := 0
		for _, p := range list.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		if len(list.Items) == total && bound == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods bound after the scheduler restarts", bound, len(list.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
	pods.mu.Lock()
	rebound := pods.rebound
	pods.mu.Unlock()
	if len(rebound) > 0 {
		t.Errorf("pods moved after binding: %v", rebound)
	}
	raw, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A killed scheduler may have had bindings in flight whose writes
	// landed after its connection was gone (answered 500 to nobody), so
	// the API server's count of 201s can fall short of the pods — but it
	// can never exceed them: a second binding of a pod is refused.
	m := regexp.MustCompile(`(?m)^apiserver_request_total\{code="201",[^}]*resource="pods",subresource="binding"[^}]*\} (\d+)$`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("no successful binding counter in /metrics")
	}
	if n, _ := strconv.Atoi(m[1]); n > total {
		t.Errorf("the API server accepted %d bindings for %d pods, want at most one each", n, total)
	}
}
