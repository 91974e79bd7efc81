package rootcacert_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/rootcacert"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"

func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := rootcacert.New(ctx, client, []byte(testCA), f.Core().V1().Namespaces(), f.Core().V1().ConfigMaps(),
		rootcacert.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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

// published checks ns's ConfigMap and returns it.
func published(client kubernetes.Interface, ns string) (*corev1.ConfigMap, error) {
	cm, err := client.CoreV1().ConfigMaps(ns).Get(context.Background(), rootcacert.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if cm.Data[rootcacert.DataKey] != testCA || len(cm.Data) != 1 {
		return cm, controllertest.Errorf("data = %v", cm.Data)
	}
	if cm.Annotations[rootcacert.DescriptionAnnotation] != rootcacert.Description {
		return cm, controllertest.Errorf("annotations = %v", cm.Annotations)
	}
	return cm, nil
}

func TestRootCAPublished(t *testing.T) {
	client, existing := controllertest.Start(t)
	startController(t, client)
	ctx := controllertest.Context(t)

	// Namespaces that existed before the controller, and new ones.
	controllertest.Eventually(t, 10*time.Second, func() error { _, err := published(client, existing); return err })
	const ns = "fresh"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first *corev1.ConfigMap
	controllertest.Eventually(t, 10*time.Second, func() (err error) { first, err = published(client, ns); return err })

	// Edited: the data is restored, a user's label is kept.
	edited := first.DeepCopy()
	edited.Data = map[string]string{rootcacert.DataKey: "tampered", "extra": "x"}
	edited.Labels = map[string]string{"mine": "yes"}
	if _, err := client.CoreV1().ConfigMaps(ns).Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 10*time.Second, func() error {
		cm, err := published(client, ns)
		if err == nil && cm.Labels["mine"] != "yes" {
			return controllertest.Errorf("labels = %v", cm.Labels)
		}
		return err
	})

	// Deleted: it comes back as a new object.
	if err := client.CoreV1().ConfigMaps(ns).Delete(ctx, rootcacert.ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 10*time.Second, func() error {
		cm, err := published(client, ns)
		if err == nil && cm.UID == first.UID {
			return controllertest.Errorf("still the old configmap")
		}
		return err
	})
}

func TestRootCANeedsABundle(t *testing.T) {
	if _, err := rootcacert.New(context.Background(), nil, nil, nil, nil, rootcacert.Options{}); err == nil {
		t.Fatal("New accepted an empty CA bundle")
	}
}
