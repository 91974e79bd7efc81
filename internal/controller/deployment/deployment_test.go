package deployment_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
)

// startControllers runs the ReplicaSet and Deployment controllers.
func startControllers(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := informers.NewSharedInformerFactory(client, 0)
	rs, err := replicaset.New(ctx, client, f.Apps().V1().ReplicaSets(), f.Core().V1().Pods(), replicaset.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := deployment.New(ctx, client, f.Apps().V1().Deployments(), f.Apps().V1().ReplicaSets(), f.Core().V1().Pods(), deployment.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 2)
	go func() { done <- rs.Run(ctx, 2) }()
	go func() { done <- dc.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		f.Shutdown()
	})
}

func newDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
			},
		},
	}
}

// waitRolledOut waits for what `kubectl rollout status` requires.
func waitRolledOut(t *testing.T, client kubernetes.Interface, ns, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	controllertest.Eventually(t, 45*time.Second, func() error {
		var err error
		d, err = client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s := d.Status
		cond := progressing(d)
		if d.Generation > s.ObservedGeneration || s.UpdatedReplicas != *d.Spec.Replicas || s.Replicas != s.UpdatedReplicas ||
			s.AvailableReplicas != s.UpdatedReplicas || cond == nil || cond.Reason != "NewReplicaSetAvailable" {
			return controllertest.Errorf("not rolled out: generation %d status %+v", d.Generation, s)
		}
		return nil
	})
	return d
}

func progressing(d *appsv1.Deployment) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// replicaSets returns the deployment's ReplicaSets by name.
func replicaSets(t *testing.T, client kubernetes.Interface, ns, app string) map[string]appsv1.ReplicaSet {
	t.Helper()
	list, err := client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]appsv1.ReplicaSet{}
	for _, rs := range list.Items {
		out[rs.Name] = rs
	}
	return out
}

func setImage(t *testing.T, client kubernetes.Interface, ns, name, image string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []any{map[string]any{"name": "c", "image": image}}}}}})
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateScaleRollingUpdateAndRollback(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	kubelet := controllertest.StartKubelet(t, client, ns)
	startControllers(t, client)

	d := newDeployment(ns, "web", 3)
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &one}}
	d, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d = waitRolledOut(t, client, ns, "web")
	hash1 := deployment.ComputeHash(&d.Spec.Template, nil)
	rss := replicaSets(t, client, ns, "web")
	rs1, ok := rss["web-"+hash1]
	if !ok || len(rss) != 1 {
		t.Fatalf("want one ReplicaSet web-%s, have %v", hash1, rss)
	}
	if rs1.Annotations[deployment.RevisionAnnotation] != "1" || d.Annotations[deployment.RevisionAnnotation] != "1" ||
		rs1.Annotations[deployment.DesiredReplicasAnnotation] != "3" || rs1.Annotations[deployment.MaxReplicasAnnotation] != "4" {
		t.Errorf("annotations: rs %v, deployment %v", rs1.Annotations, d.Annotations)
	}
	if rs1.Spec.Selector.MatchLabels[deployment.HashLabel] != hash1 || rs1.Spec.Template.Labels[deployment.HashLabel] != hash1 {
		t.Errorf("pod-template-hash missing: %+v", rs1.Spec)
	}
	ref := metav1.GetControllerOf(&rs1)
	if ref == nil || ref.UID != d.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner ref %+v", ref)
	}

	// Scale.
	patch := []byte(`{"spec":{"replicas":4}}`)
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, "web", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, client, ns, "web")

	// Rolling update with maxUnavailable=0: the number of ready,
	// non-terminating pods never drops below 4, watched continuously.
	kubelet.SetReady(func(p *corev1.Pod) bool { return time.Since(p.CreationTimestamp.Time) > 300*time.Millisecond })
	var violations atomic.Int32
	stop := watchReady(t, client, ns, "web", 4, &violations)
	setImage(t, client, ns, "web", "busybox:1.37")
	d2 := waitRolledOut(t, client, ns, "web")
	stop()
	if n := violations.Load(); n > 0 {
		t.Fatalf("ready pods dropped below 4 %d times during the rollout", n)
	}
	if d2.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Errorf("deployment revision %q, want 2", d2.Annotations[deployment.RevisionAnnotation])
	}

	// Rollback: the template goes back; the first ReplicaSet is reused
	// with revision 3.
	setImage(t, client, ns, "web", "busybox:1.36")
	d3 := waitRolledOut(t, client, ns, "web")
	rss = replicaSets(t, client, ns, "web")
	if len(rss) != 2 {
		t.Fatalf("want 2 ReplicaSets after rollback, have %d", len(rss))
	}
	back := rss["web-"+hash1]
	if back.UID != rs1.UID || back.Annotations[deployment.RevisionAnnotation] != "3" || *back.Spec.Replicas != 4 {
		t.Fatalf("rollback: rs %s uid %s revision %q replicas %d", back.Name, back.UID,
			back.Annotations[deployment.RevisionAnnotation], *back.Spec.Replicas)
	}
	if d3.Annotations[deployment.RevisionAnnotation] != "3" {
		t.Errorf("deployment revision %q, want 3", d3.Annotations[deployment.RevisionAnnotation])
	}
}

// watchReady counts, from a pod watch, the moments at which fewer than
// want pods are ready and not terminating.
func watchReady(t *testing.T, client kubernetes.Interface, ns, app string, want int, violations *atomic.Int32) func() {
	w, err := client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ready := map[string]bool{}
		initial := true
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ev.Type == watch.Deleted {
				delete(ready, p.Name)
			} else {
				ready[p.Name] = controllerutil.IsPodActive(p) && controllerutil.IsPodReady(p)
			}
			n := 0
			for _, r := range ready {
				if r {
					n++
				}
			}
			if initial && n < want {
				continue // still replaying the existing pods
			}
			initial = false
			if n < want {
				violations.Add(1)
				t.Logf("only %d ready pods after %s %s", n, ev.Type, p.Name)
			}
		}
	}()
	return func() { w.Stop(); <-done }
}

func TestRecreateAndPause(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	controllertest.StartKubelet(t, client, ns)
	startControllers(t, client)

	d := newDeployment(ns, "db", 2)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, client, ns, "db")
	setImage(t, client, ns, "db", "busybox:1.37")
	waitRolledOut(t, client, ns, "db")
	for name, rs := range replicaSets(t, client, ns, "db") {
		if rs.Spec.Template.Spec.Containers[0].Image == "busybox:1.36" && *rs.Spec.Replicas != 0 {
			t.Errorf("old ReplicaSet %s still has %d replicas", name, *rs.Spec.Replicas)
		}
	}

	// Paused: a template change does not roll, a scale does.
	pause := []byte(`{"spec":{"paused":true}}`)
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, "db", types.MergePatchType, pause, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	setImage(t, client, ns, "db", "busybox:1.38")
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, "db", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 30*time.Second, func() error {
		got, err := client.AppsV1().Deployments(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.ObservedGeneration < got.Generation || got.Status.AvailableReplicas != 3 {
			return controllertest.Errorf("status %+v", got.Status)
		}
		return nil
	})
	if n := len(replicaSets(t, client, ns, "db")); n != 2 {
		t.Fatalf("paused deployment rolled: %d ReplicaSets", n)
	}
	resume := []byte(`{"spec":{"paused":false}}`)
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, "db", types.MergePatchType, resume, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitRolledOut(t, client, ns, "db")
	if !strings.Contains(got.Spec.Template.Spec.Containers[0].Image, "1.38") || len(replicaSets(t, client, ns, "db")) != 3 {
		t.Fatalf("resume did not roll to 1.38")
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	kubelet := controllertest.StartKubelet(t, client, ns)
	kubelet.SetReady(func(*corev1.Pod) bool { return false })
	startControllers(t, client)

	d := newDeployment(ns, "stuck", 2)
	deadline := int32(2)
	d.Spec.ProgressDeadlineSeconds = &deadline
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 30*time.Second, func() error {
		got, err := client.AppsV1().Deployments(ns).Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cond := progressing(got)
		if cond == nil || cond.Status != corev1.ConditionFalse || cond.Reason != "ProgressDeadlineExceeded" {
			return controllertest.Errorf("progressing %+v", cond)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && (c.Status != corev1.ConditionFalse || c.Reason != "MinimumReplicasUnavailable") {
				return controllertest.Errorf("available %+v", c)
			}
		}
		return nil
	})
}
