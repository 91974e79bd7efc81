package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/test/framework"
)

// TestRolloutTime measures, with the real controllers and scheduler and
// fake nodes, how long a 100-replica Deployment takes to be created and
// then fully rolled to a new template (default strategy: 25% surge, 25%
// unavailable). It prints the times and never gates on them.
func TestRolloutTime(t *testing.T) {
	if testing.Short() {
		t.Skip("timing run skipped in -short mode")
	}
	s := framework.StartServer(t, framework.Options{Components: true})
	client := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var names []string
	for i := 0; i < 10; i++ {
		names = append(names, fmt.Sprintf("node-%d", i))
	}
	nodes := controllertest.StartNodes(t, client, controllertest.NodeOptions{CPU: "32", Memory: "64Gi"}, names...)
	controllertest.StartNodeKubelet(t, client, "", nodes)

	const replicas = 100
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "big"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "big"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
			},
		},
	}
	start := time.Now()
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, ctx, client, "big", replicas)
	created := time.Since(start)

	start = time.Now()
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:1.37"}]}}}}`)
	if _, err := client.AppsV1().Deployments("default").Patch(ctx, "big", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, ctx, client, "big", replicas)
	rolled := time.Since(start)
	t.Logf("100-replica Deployment: created and available in %v; rolled to a new template in %v",
		created.Round(time.Millisecond), rolled.Round(time.Millisecond))
}

// waitComplete waits until the Deployment's status says what `kubectl
// rollout status` waits for: observed, every replica updated and
// available, none old.
func waitComplete(t *testing.T, ctx context.Context, client kubernetes.Interface, name string, n int32) {
	t.Helper()
	for {
		d, err := client.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := d.Status
		if st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment %s not complete: %+v", name, st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
