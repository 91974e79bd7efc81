package replicaset_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
)

// startController runs the ReplicaSet controller against client until the
// test ends.
func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := replicaset.New(ctx, client, f.Apps().V1().ReplicaSets(), f.Core().V1().Pods(), replicaset.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Shutdown()
	})
}

// countCreates counts the distinct pods created in ns from now on.
func countCreates(t *testing.T, client kubernetes.Interface, ns string) func() int {
	w, err := client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[types.UID]bool{}
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				mu.Lock()
				seen[p.UID] = true
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.Stop)
	return func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
}

func newRS(ns, name string, replicas int32) *appsv1.ReplicaSet {
	labels := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
			},
		},
	}
}

func activePods(t *testing.T, client kubernetes.Interface, ns, app string) []corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if controllerutil.IsPodActive(&p) {
			out = append(out, p)
		}
	}
	return out
}

// waitStatus waits until the ReplicaSet's status reports n replicas, all
// ready and available, for its current generation.
func waitStatus(t *testing.T, client kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	controllertest.Eventually(t, 30*time.Second, func() error {
		rs, err := client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s := rs.Status
		if s.ObservedGeneration < rs.Generation || s.Replicas != n || s.ReadyReplicas != n ||
			s.AvailableReplicas != n || s.FullyLabeledReplicas != n {
			return controllertest.Errorf("status %+v, generation %d, want %d", s, rs.Generation, n)
		}
		if got := len(activePods(t, client, ns, name)); got != int(n) {
			return controllertest.Errorf("%d active pods, want %d", got, n)
		}
		return nil
	})
}

func scale(t *testing.T, client kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	s, err := client.AppsV1().ReplicaSets(ns).GetScale(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = n
	if _, err := client.AppsV1().ReplicaSets(ns).UpdateScale(context.Background(), name, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestScaleHealAndNeverOverCreate(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	controllertest.StartKubelet(t, client, ns)
	creates := countCreates(t, client, ns)
	startController(t, client)

	rs, err := client.AppsV1().ReplicaSets(ns).Create(ctx, newRS(ns, "web", 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, client, ns, "web", 0)
	scale(t, client, ns, "web", 10)
	waitStatus(t, client, ns, "web", 10)
	for _, p := range activePods(t, client, ns, "web") {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s: controller ref %+v", p.Name, ref)
		}
		if !strings.HasPrefix(p.Name, "web-") || p.GenerateName != "web-" {
			t.Errorf("pod %s: generateName %q", p.Name, p.GenerateName)
		}
	}
	scale(t, client, ns, "web", 3)
	waitStatus(t, client, ns, "web", 3)

	// Kill two pods: they are replaced, and only they.
	for _, p := range activePods(t, client, ns, "web")[:2] {
		if err := client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	controllertest.Eventually(t, 30*time.Second, func() error {
		if n := creates(); n != 12 {
			return controllertest.Errorf("%d pods created, want 12", n)
		}
		return nil
	})
	waitStatus(t, client, ns, "web", 3)
	time.Sleep(time.Second) // anything extra would have been created by now
	if n := creates(); n != 12 {
		t.Fatalf("%d pods created in all, want exactly 12", n)
	}
}

func TestAdoptOrphanAndReleaseMismatch(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	controllertest.StartKubelet(t, client, ns)
	startController(t, client)

	tmpl := newRS(ns, "api", 2)
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, Labels: map[string]string{"app": "api"}},
		Spec: tmpl.Spec.Template.Spec}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	creates := countCreates(t, client, ns)
	rs, err := client.AppsV1().ReplicaSets(ns).Create(ctx, tmpl, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, client, ns, "api", 2)
	p, err := client.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != rs.UID {
		t.Fatalf("orphan not adopted: owner refs %+v", p.OwnerReferences)
	}
	// The watch replays the orphan as ADDED, so 2 means one new pod.
	if n := creates(); n != 2 {
		t.Fatalf("%d pods seen, want the orphan and 1 new", n)
	}

	// Relabel the adopted pod: the ReplicaSet releases it and replaces it.
	p.Labels = map[string]string{"app": "other"}
	if _, err := client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 30*time.Second, func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(p.OwnerReferences) != 0 {
			return controllertest.Errorf("still owned: %+v", p.OwnerReferences)
		}
		return nil
	})
	waitStatus(t, client, ns, "api", 2)
}

func TestMinReadySecondsDelaysAvailable(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	controllertest.StartKubelet(t, client, ns)
	startController(t, client)

	rs := newRS(ns, "slow", 2)
	rs.Spec.MinReadySeconds = 2
	if _, err := client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 30*time.Second, func() error {
		got, err := client.AppsV1().ReplicaSets(ns).Get(ctx, "slow", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.ReadyReplicas != 2 {
			return controllertest.Errorf("ready %d", got.Status.ReadyReplicas)
		}
		if got.Status.AvailableReplicas != 0 {
			t.Fatalf("available %d before minReadySeconds", got.Status.AvailableReplicas)
		}
		return nil
	})
	waitStatus(t, client, ns, "slow", 2)
}
