package serviceaccount_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/serviceaccount"
)

// startController runs the service account controller against client
// until the test ends.
func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := serviceaccount.New(ctx, client, f.Core().V1().Namespaces(), f.Core().V1().ServiceAccounts(),
		serviceaccount.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
}

func getDefault(client kubernetes.Interface, ns string) (*corev1.ServiceAccount, error) {
	return client.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
}

func TestDefaultServiceAccount(t *testing.T) {
	client, existing := controllertest.Start(t)
	startController(t, client)
	ctx := controllertest.Context(t)

	// A namespace that existed before the controller started gets one.
	controllertest.Eventually(t, 10*time.Second, func() error { _, err := getDefault(client, existing); return err })

	const ns = "fresh"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first *corev1.ServiceAccount
	controllertest.Eventually(t, 10*time.Second, func() (err error) { first, err = getDefault(client, ns); return err })

	// Deleted, it comes back as a new object.
	if err := client.CoreV1().ServiceAccounts(ns).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 10*time.Second, func() error {
		sa, err := getDefault(client, ns)
		if err != nil {
			return err
		}
		if sa.UID == first.UID {
			return controllertest.Errorf("still the old service account")
		}
		return nil
	})
}

func TestTerminatingNamespaceIsSkipped(t *testing.T) {
	client, ns := controllertest.Start(t)
	startController(t, client)
	ctx := controllertest.Context(t)
	controllertest.Eventually(t, 10*time.Second, func() error { _, err := getDefault(client, ns); return err })

	// No namespace controller runs, so the namespace stays Terminating.
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().ServiceAccounts(ns).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := getDefault(client, ns); !apierrors.IsNotFound(err) {
		t.Errorf("default service account in terminating namespace: got %v, want NotFound", err)
	}
}
