package controllertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/test/framework"
)

// Start runs an in-process API server and returns a client for it and a
// fresh namespace.
func Start(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	s := framework.StartServer(t, framework.Options{})
	client := s.Client(t)
	ns := "test"
	if _, err := client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return client, ns
}

// Context is a context that ends with the test (or after a minute).
func Context(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Eventually polls cond every 50ms until it returns nil, failing the test
// with cond's last error after timeout.
func Eventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met after %v: %v", timeout, err)
}

// Errorf is fmt.Errorf, for conditions.
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
