package garbagecollector_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/test/framework"
)

const ns = "test"

var resources = []schema.GroupVersionResource{
	corev1.SchemeGroupVersion.WithResource("pods"),
	corev1.SchemeGroupVersion.WithResource("configmaps"),
	appsv1.SchemeGroupVersion.WithResource("replicasets"),
}

type env struct {
	client kubernetes.Interface
	md     metadata.Interface
}

// setup starts a server, a namespace and a fake kubelet (which finishes
// pods' graceful deletion).
func setup(t *testing.T) env {
	t.Helper()
	s := framework.StartServer(t, framework.Options{})
	client := s.Client(t)
	md, err := metadata.NewForConfig(s.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.StartKubelet(t, client, ns)
	return env{client: client, md: md}
}

// startGC runs a collector until the returned stop is called or the test ends.
func (e env) startGC(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := garbagecollector.New(ctx, e.client, e.md, resources,
		garbagecollector.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func (e env) replicaSet(t *testing.T, name string) *appsv1.ReplicaSet {
	t.Helper()
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &zero,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
			},
		},
	}
	out, err := e.client.AppsV1().ReplicaSets(ns).Create(context.Background(), rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e env) configMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	out, err := e.client.CoreV1().ConfigMaps(ns).Create(context.Background(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e env) pod(t *testing.T, name string, finalizers []string, owners ...metav1.OwnerReference) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, OwnerReferences: owners, Finalizers: finalizers},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	out, err := e.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rsRef(rs *appsv1.ReplicaSet) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
		Controller: &yes, BlockOwnerDeletion: &yes}
}

func cmRef(cm *corev1.ConfigMap) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID}
}

func (e env) deleteRS(t *testing.T, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := e.client.AppsV1().ReplicaSets(ns).Delete(context.Background(), name,
		metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
}

func (e env) waitPodGone(t *testing.T, name string) {
	t.Helper()
	controllertest.Eventually(t, 20*time.Second, func() error {
		_, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return controllertest.Errorf("pod %s still there (err %v)", name, err)
	})
}

func (e env) waitRSGone(t *testing.T, name string) {
	t.Helper()
	controllertest.Eventually(t, 20*time.Second, func() error {
		_, err := e.client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return controllertest.Errorf("replicaset %s still there (err %v)", name, err)
	})
}

// ownerUIDs returns the UIDs pod name references now.
func (e env) ownerUIDs(t *testing.T, name string) []types.UID {
	t.Helper()
	p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pod %s: %v", name, err)
	}
	var out []types.UID
	for _, r := range p.OwnerReferences {
		out = append(out, r.UID)
	}
	return out
}

func TestBackgroundDeletesDependents(t *testing.T) {
	e := setup(t)
	e.startGC(t)
	rs := e.replicaSet(t, "web")
	cm := e.configMap(t, "keeper")
	e.pod(t, "web-a", nil, rsRef(rs))
	e.pod(t, "web-b", nil, rsRef(rs))
	e.pod(t, "shared", nil, rsRef(rs), cmRef(cm))

	e.deleteRS(t, "web", metav1.DeletePropagationBackground)
	e.waitPodGone(t, "web-a")
	e.waitPodGone(t, "web-b")
	controllertest.Eventually(t, 20*time.Second, func() error {
		got := e.ownerUIDs(t, "shared")
		if len(got) != 1 || got[0] != cm.UID {
			return controllertest.Errorf("shared pod owners %v, want only %s", got, cm.UID)
		}
		return nil
	})
	// The surviving pod stays once its dangling reference is gone.
	time.Sleep(300 * time.Millisecond)
	if got := e.ownerUIDs(t, "shared"); len(got) != 1 {
		t.Fatalf("shared pod owners %v", got)
	}
}

func TestBackgroundOwnerReplacedBySameName(t *testing.T) {
	e := setup(t)
	e.startGC(t)
	old := e.replicaSet(t, "web")
	e.deleteRS(t, "web", metav1.DeletePropagationOrphan) // gone only once the GC orphans (none)
	e.waitRSGone(t, "web")
	e.replicaSet(t, "web") // same name, new UID
	e.pod(t, "stale", nil, rsRef(old))
	e.waitPodGone(t, "stale")
}

func TestForegroundWaitsForBlockingDependents(t *testing.T) {
	e := setup(t)
	e.startGC(t)
	rs := e.replicaSet(t, "web")
	e.pod(t, "web-a", nil, rsRef(rs))
	e.pod(t, "web-held", []string{"test.skiff.sh/hold"}, rsRef(rs))

	e.deleteRS(t, "web", metav1.DeletePropagationForeground)
	e.waitPodGone(t, "web-a")
	// web-held cannot finish deleting, so the ReplicaSet must wait.
	controllertest.Eventually(t, 20*time.Second, func() error {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), "web-held", metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp == nil {
			return controllertest.Errorf("web-held not being deleted (err %v)", err)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	got, err := e.client.AppsV1().ReplicaSets(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("replicaset gone before its blocking dependent: %v", err)
	}
	if got.DeletionTimestamp == nil || !contains(got.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("replicaset deletionTimestamp %v finalizers %v", got.DeletionTimestamp, got.Finalizers)
	}

	// Release the pod; it goes, then the ReplicaSet.
	e.release(t, "web-held")
	e.waitPodGone(t, "web-held")
	e.waitRSGone(t, "web")
}

func TestForegroundNonBlockingDependentsDoNotWait(t *testing.T) {
	e := setup(t)
	e.startGC(t)
	rs := e.replicaSet(t, "web")
	ref := rsRef(rs)
	no := false
	ref.BlockOwnerDeletion = &no
	e.pod(t, "web-held", []string{"test.skiff.sh/hold"}, ref)

	e.deleteRS(t, "web", metav1.DeletePropagationForeground)
	e.waitRSGone(t, "web")
	controllertest.Eventually(t, 20*time.Second, func() error {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), "web-held", metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp == nil {
			return controllertest.Errorf("web-held not being deleted (err %v)", err)
		}
		return nil
	})
	e.release(t, "web-held")
	e.waitPodGone(t, "web-held")
}

func TestOrphanKeepsDependents(t *testing.T) {
	e := setup(t)
	e.startGC(t)
	rs := e.replicaSet(t, "web")
	cm := e.configMap(t, "other")
	e.pod(t, "web-a", nil, rsRef(rs))
	e.pod(t, "web-b", nil, cmRef(cm), rsRef(rs))

	e.deleteRS(t, "web", metav1.DeletePropagationOrphan)
	e.waitRSGone(t, "web")
	if got := e.ownerUIDs(t, "web-a"); len(got) != 0 {
		t.Fatalf("web-a owners %v, want none", got)
	}
	if got := e.ownerUIDs(t, "web-b"); len(got) != 1 || got[0] != cm.UID {
		t.Fatalf("web-b owners %v, want only %s", got, cm.UID)
	}
	time.Sleep(300 * time.Millisecond)
	for _, name := range []string{"web-a", "web-b"} {
		if _, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			t.Fatalf("orphaned pod %s: %v", name, err)
		}
	}
}

func TestRestartCollectsOwnersDeletedWhileDown(t *testing.T) {
	e := setup(t)
	stop := e.startGC(t)
	rs := e.replicaSet(t, "web")
	e.pod(t, "web-a", nil, rsRef(rs))
	e.pod(t, "web-b", nil, rsRef(rs))
	stop()

	e.deleteRS(t, "web", metav1.DeletePropagationBackground)
	e.waitRSGone(t, "web")
	time.Sleep(200 * time.Millisecond)
	if _, err := e.client.CoreV1().Pods(ns).Get(context.Background(), "web-a", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod collected with no collector running: %v", err)
	}

	e.startGC(t)
	e.waitPodGone(t, "web-a")
	e.waitPodGone(t, "web-b")
}

// release removes pod name's finalizers. The apiserver currently answers
// the patch that removes the last finalizer of a deleting pod with an
// internal "key not found" although the pod is gone, so only a pod still
// present afterwards is a failure.
func (e env) release(t *testing.T, name string) {
	t.Helper()
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	_, err := e.client.CoreV1().Pods(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		if _, gerr := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(gerr) {
			t.Fatalf("release %s: %v", name, err)
		}
		t.Logf("release %s: %v (pod gone anyway)", name, err)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
