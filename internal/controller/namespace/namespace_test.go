package namespace_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
	"github.com/skiff-sh/skiff/test/framework"
)

// startController runs an API server and the namespace controller against
// it until the test ends.
func startController(t *testing.T) kubernetes.Interface {
	t.Helper()
	s := framework.StartServer(t, framework.Options{})
	client := s.Client(t)
	md, err := metadata.NewForConfig(s.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := namespace.New(ctx, client, md, f.Core().V1().Namespaces(), namespace.Options{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
		f.Shutdown()
	})
	return client
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
}

func populate(t *testing.T, client kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		must[*corev1.ConfigMap](t)(client.CoreV1().ConfigMaps(ns).Create(ctx,
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": name}}, metav1.CreateOptions{}))
	}
	must[*corev1.Secret](t)(client.CoreV1().Secrets(ns).Create(ctx,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}))
	one := int32(1)
	labels := map[string]string{"app": "web"}
	must[*appsv1.Deployment](t)(client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: newPod(ns, "").Spec},
		},
	}, metav1.CreateOptions{}))
	for _, name := range []string{"p1", "p2"} {
		must[*corev1.Pod](t)(client.CoreV1().Pods(ns).Create(ctx, newPod(ns, name), metav1.CreateOptions{}))
	}
	must[*corev1.Service](t)(client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}))
}

func waitGone(t *testing.T, client kubernetes.Interface, ns string, timeout time.Duration) {
	t.Helper()
	controllertest.Eventually(t, timeout, func() error {
		got, err := client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return controllertest.Errorf("namespace still there: phase %s, conditions %+v", got.Status.Phase, got.Status.Conditions)
	})
}

func TestDeleteNamespaceRemovesContent(t *testing.T) {
	client := startController(t)
	ctx := controllertest.Context(t)
	const ns = "doomed"
	createNamespace(t, client, ns)
	populate(t, client, ns)
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, client, ns, 20*time.Second)

	// Recreate the namespace: nothing of the old contents may come back.
	createNamespace(t, client, ns)
	if l := must[*corev1.ConfigMapList](t)(client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})); len(l.Items) != 0 {
		t.Errorf("configmaps left: %d", len(l.Items))
	}
	if l := must[*corev1.PodList](t)(client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})); len(l.Items) != 0 {
		t.Errorf("pods left: %d", len(l.Items))
	}
	if l := must[*appsv1.DeploymentList](t)(client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})); len(l.Items) != 0 {
		t.Errorf("deployments left: %d", len(l.Items))
	}
	if l := must[*corev1.ServiceList](t)(client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})); len(l.Items) != 0 {
		t.Errorf("services left: %d", len(l.Items))
	}
	if l := must[*corev1.SecretList](t)(client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})); len(l.Items) != 0 {
		t.Errorf("secrets left: %d", len(l.Items))
	}
}

// conditionsShow waits until namespace ns has every want condition True
// with a message containing the given text.
func conditionsShow(t *testing.T, client kubernetes.Interface, ns string, want map[corev1.NamespaceConditionType]string) {
	t.Helper()
	controllertest.Eventually(t, 20*time.Second, func() error {
		got, err := client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.Phase != corev1.NamespaceTerminating {
			return controllertest.Errorf("phase %q", got.Status.Phase)
		}
		for typ, msg := range want {
			var found *corev1.NamespaceCondition
			for i := range got.Status.Conditions {
				if got.Status.Conditions[i].Type == typ {
					found = &got.Status.Conditions[i]
				}
			}
			if found == nil || found.Status != corev1.ConditionTrue || !strings.Contains(found.Message, msg) {
				return controllertest.Errorf("condition %s: got %+v, want True with %q", typ, found, msg)
			}
		}
		return nil
	})
}

func TestFinalizerHoldsNamespace(t *testing.T) {
	client := startController(t)
	ctx := controllertest.Context(t)
	const ns = "held"
	createNamespace(t, client, ns)
	populate(t, client, ns)
	must[*corev1.ConfigMap](t)(client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}},
	}, metav1.CreateOptions{}))
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	conditionsShow(t, client, ns, map[corev1.NamespaceConditionType]string{
		corev1.NamespaceContentRemaining:    "configmaps has 1 resource instances",
		corev1.NamespaceFinalizersRemaining: "example.com/hold in 1 resource instances",
	})
	// Creating content in the terminating namespace is refused.
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}},
		metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("create in terminating namespace: got %v, want Forbidden", err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace went while content remained: %v", err)
	}
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := client.CoreV1().ConfigMaps(ns).Patch(ctx, "held", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, client, ns, 20*time.Second)
}

func TestTerminatingPodHoldsNamespace(t *testing.T) {
	client := startController(t)
	ctx := controllertest.Context(t)
	const ns = "lingering"
	createNamespace(t, client, ns)
	pod := must[*corev1.Pod](t)(client.CoreV1().Pods(ns).Create(ctx, newPod(ns, "bound"), metav1.CreateOptions{}))
	// A bound pod is deleted gracefully: it stays until its kubelet (here,
	// the test) confirms.
	if err := client.CoreV1().Pods(ns).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	conditionsShow(t, client, ns, map[corev1.NamespaceConditionType]string{
		corev1.NamespaceContentRemaining: "pods has 1 resource instances",
	})
	got := must[*corev1.Pod](t)(client.CoreV1().Pods(ns).Get(ctx, "bound", metav1.GetOptions{}))
	if got.DeletionTimestamp == nil {
		t.Fatal("pod not marked for deletion")
	}
	zero := int64(0)
	if err := client.CoreV1().Pods(ns).Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, client, ns, 20*time.Second)
}
