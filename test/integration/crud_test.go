package integration

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/test/framework"
)

func TestSystemObjectsExist(t *testing.T) {
	// 192.0.2.0/24 is reserved for documentation: nothing is sent there.
	s := framework.StartServer(t, framework.Options{AdvertiseAddress: "192.0.2.10"})
	cs := s.Client(t)
	ctx := ctxFor(t)
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
		if got.Status.Phase != corev1.NamespaceActive {
			t.Errorf("namespace %s phase %q", ns, got.Status.Phase)
		}
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.1" || svc.Spec.Ports[0].Port != 443 {
		t.Errorf("kubernetes service = %s %+v", svc.Spec.ClusterIP, svc.Spec.Ports)
	}
	ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != "192.0.2.10" || ep.Subsets[0].Ports[0].Port == 443 {
		t.Errorf("kubernetes endpoints = %+v, %v", ep, err)
	}
}

func TestCRUDMetadataSemantics(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	pods := cs.CoreV1().Pods("default")
	created, err := pods.Create(ctx, testPod("p1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("system fields not set: %+v", created.ObjectMeta)
	}
	if created.Generation != 1 {
		t.Errorf("generation = %d, want 1", created.Generation)
	}
	// Defaults as upstream applies them.
	c := created.Spec.Containers[0]
	if created.Spec.RestartPolicy != corev1.RestartPolicyAlways || created.Spec.DNSPolicy != corev1.DNSClusterFirst ||
		ptr.Deref(created.Spec.TerminationGracePeriodSeconds, 0) != 30 || c.ImagePullPolicy != corev1.PullIfNotPresent ||
		created.Spec.SchedulerName != "default-scheduler" || created.Status.Phase != corev1.PodPending {
		t.Errorf("defaults missing: %+v / %+v", created.Spec, created.Status)
	}
	if len(created.ManagedFields) == 0 {
		t.Errorf("managedFields not tracked")
	}
	// Already exists.
	if _, err := pods.Create(ctx, testPod("p1"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	// generateName.
	gen := testPod("")
	gen.GenerateName = "web-"
	g, err := pods.Create(ctx, gen, metav1.CreateOptions{})
	if err != nil || !strings.HasPrefix(g.Name, "web-") || len(g.Name) != len("web-")+5 {
		t.Fatalf("generateName: %v %q", err, g.Name)
	}
	// Stale resourceVersion → 409 Conflict.
	upd := created.DeepCopy()
	upd.Labels["v"] = "2"
	if _, err := pods.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	upd.Labels["v"] = "3"
	_, err = pods.Update(ctx, upd, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "the object has been modified") {
		t.Fatalf("stale update: %v, want Conflict", err)
	}
	// Status is ignored on the main resource, spec on /status.
	cur, _ := pods.Get(ctx, "p1", metav1.GetOptions{})
	cur.Status.Phase = corev1.PodRunning
	cur.Labels["x"] = "y"
	after, err := pods.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Status.Phase != corev1.PodPending || after.Labels["x"] != "y" {
		t.Errorf("main update changed status or lost labels: %v %v", after.Status.Phase, after.Labels)
	}
	after.Status.Phase = corev1.PodRunning
	after.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
	st, err := pods.UpdateStatus(ctx, after, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.Phase != corev1.PodRunning || st.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("status update: phase %v, activeDeadline %v", st.Status.Phase, st.Spec.ActiveDeadlineSeconds)
	}
	// Immutable pod spec.
	st.Spec.Containers[0].Name = "other"
	if _, err := pods.Update(ctx, st, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing container name: %v, want Invalid", err)
	}
}

func TestDeploymentGenerationAndScale(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
	deps := cs.AppsV1().Deployments("default")
	got, err := deps.Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.Replicas != 1 || got.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		got.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" || *got.Spec.RevisionHistoryLimit != 10 ||
		*got.Spec.ProgressDeadlineSeconds != 600 || got.Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("deployment defaults: %+v", got.Spec)
	}
	if got.Generation != 1 {
		t.Errorf("generation %d", got.Generation)
	}
	scale, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if scale.Spec.Replicas != 1 || scale.Status.Selector != "app=web" {
		t.Errorf("scale = %+v", scale)
	}
	scale.Spec.Replicas = 5
	if _, err := deps.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ = deps.Get(ctx, "web", metav1.GetOptions{})
	if *got.Spec.Replicas != 5 || got.Generation != 2 {
		t.Errorf("after scale: replicas %d generation %d", *got.Spec.Replicas, got.Generation)
	}
	// Status written through the main resource is ignored.
	got.Status.Replicas = 7
	got, err = deps.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil || got.Status.Replicas != 0 {
		t.Fatalf("main update changed status: %v %d", err, got.Status.Replicas)
	}
	// A label change does not bump generation.
	got.Labels = map[string]string{"a": "b"}
	got, _ = deps.Update(ctx, got, metav1.UpdateOptions{})
	if got.Generation != 2 {
		t.Errorf("label change bumped generation to %d", got.Generation)
	}
	// Selector must match the template; selector immutable.
	bad := d.DeepCopy()
	bad.Name = "bad"
	bad.Spec.Template.Labels = map[string]string{"app": "other"}
	if _, err := deps.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("mismatched selector: %v", err)
	}
	got.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	got.Spec.Template.Labels = map[string]string{"app": "x"}
	if _, err := deps.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("selector change: %v, want Invalid", err)
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	if _, err := cs.CoreV1().ConfigMaps("nope").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("create in missing namespace: %v, want NotFound", err)
	}
	createNamespace(t, cs, "tmp")
	if err := cs.CoreV1().Namespaces().Delete(ctx, "tmp", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "tmp", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
		t.Fatalf("deleted namespace: %+v %v", ns, err)
	}
	_, err = cs.CoreV1().ConfigMaps("tmp").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "being terminated") {
		t.Fatalf("create in terminating namespace: %v", err)
	}
	// Finalize removes it.
	ns.Spec.Finalizers = nil
	if _, err := cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "tmp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("finalized namespace still there: %v", err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, "kube-system", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("deleting kube-system: %v", err)
	}
}

func TestDryRunPersistsNothing(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	cms := cs.CoreV1().ConfigMaps("default")
	out, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}, Data: map[string]string{"a": "b"}},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || out.Name != "dry" || out.UID == "" {
		t.Fatalf("dry-run create: %v %+v", err, out)
	}
	if _, err := cms.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run create persisted: %v", err)
	}
	real, _ := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "real"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{})
	real.Data["a"] = "changed"
	if _, err := cms.Update(ctx, real, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "real", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "real", metav1.GetOptions{})
	if err != nil || got.Data["a"] != "b" || got.ResourceVersion != real.ResourceVersion {
		t.Fatalf("dry-run update/delete changed the object: %v %+v", err, got)
	}
	// Dry-run Service creation allocates no ClusterIP for good.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: corev1.ServiceSpec{
		ClusterIP: "10.43.0.50", Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("IP leaked by dry run: %v", err)
	}
}

func TestLoopbackAdvertiseAddressPublishesNoEndpoints(t *testing.T) {
	_, cs := start(t)
	if _, err := cs.CoreV1().Endpoints("default").Get(ctxFor(t), "kubernetes", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("kubernetes endpoints with a loopback advertise address: %v", err)
	}
}
