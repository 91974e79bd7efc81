package integration

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1apply "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	metav1apply "k8s.io/client-go/applyconfigurations/meta/v1"
)

func TestPatchTypes(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	pods := cs.CoreV1().Pods("default")
	p := testPod("p")
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "busybox:1.36"})
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Strategic merge: containers merge by name.
	got, err := pods.Patch(ctx, "p", types.StrategicMergePatchType,
		[]byte(`{"spec":{"containers":[{"name":"side","image":"busybox:1.37"}]}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Containers) != 2 || got.Spec.Containers[1].Image != "busybox:1.37" || got.Spec.Containers[0].Image != "busybox:1.36" {
		t.Fatalf("SMP result: %+v", got.Spec.Containers)
	}
	// Merge patch: labels.
	got, err = pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"metadata":{"labels":{"tier":"front","app":null}}}`), metav1.PatchOptions{})
	if err != nil || got.Labels["tier"] != "front" || got.Labels["app"] != "" {
		t.Fatalf("merge patch: %v %v", err, got.Labels)
	}
	// JSON patch.
	got, err = pods.Patch(ctx, "p", types.JSONPatchType, []byte(`[{"op":"add","path":"/metadata/annotations","value":{"a":"1"}}]`), metav1.PatchOptions{})
	if err != nil || got.Annotations["a"] != "1" {
		t.Fatalf("json patch: %v %v", err, got.Annotations)
	}
	// A failing JSON patch test is 422.
	_, err = pods.Patch(ctx, "p", types.JSONPatchType, []byte(`[{"op":"test","path":"/metadata/name","value":"x"}]`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("failed test op: %v", err)
	}
	// Patching a missing object is 404.
	_, err = pods.Patch(ctx, "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("patch missing: %v", err)
	}
	// Patch with a stale resourceVersion conflicts.
	_, err = pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"1","labels":{"z":"1"}}}`), metav1.PatchOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("stale patch: %v", err)
	}
	// Strict field validation rejects unknown fields.
	_, err = pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"spec":{"bogus":1}}`), metav1.PatchOptions{FieldValidation: "Strict"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `unknown field "spec.bogus"`) {
		t.Fatalf("strict patch: %v", err)
	}
}

func TestServerSideApply(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	deps := cs.AppsV1().Deployments("default")
	cfg := appsv1apply.Deployment("ssa", "default").WithSpec(appsv1apply.DeploymentSpec().
		WithReplicas(2).
		WithSelector(metav1apply.LabelSelector().WithMatchLabels(map[string]string{"app": "ssa"})).
		WithTemplate(corev1apply.PodTemplateSpec().WithLabels(map[string]string{"app": "ssa"}).
			WithSpec(corev1apply.PodSpec().WithContainers(corev1apply.Container().WithName("c").WithImage("nginx:1")))))
	// Apply creates the object when it is missing.
	got, err := deps.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.Replicas != 2 || got.UID == "" {
		t.Fatalf("apply-create: %+v", got.Spec)
	}
	found := false
	for _, mf := range got.ManagedFields {
		if mf.Manager == "alice" && mf.Operation == metav1.ManagedFieldsOperationApply {
			found = true
		}
	}
	if !found {
		t.Fatalf("no Apply entry for alice: %+v", got.ManagedFields)
	}
	// Another manager changing alice's field conflicts, unless forced.
	other := appsv1apply.Deployment("ssa", "default").WithSpec(appsv1apply.DeploymentSpec().WithReplicas(5))
	_, err = deps.Apply(ctx, other, metav1.ApplyOptions{FieldManager: "bob"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("conflicting apply: %v", err)
	}
	got, err = deps.Apply(ctx, other, metav1.ApplyOptions{FieldManager: "bob", Force: true})
	if err != nil || *got.Spec.Replicas != 5 {
		t.Fatalf("forced apply: %v", err)
	}
	// Re-applying the same config is a no-op (no new resourceVersion).
	again, err := deps.Apply(ctx, other, metav1.ApplyOptions{FieldManager: "bob", Force: true})
	if err != nil || again.ResourceVersion != got.ResourceVersion {
		t.Fatalf("idempotent apply changed rv %s -> %s (%v)", got.ResourceVersion, again.ResourceVersion, err)
	}
	// An update by another manager is tracked as Update.
	again.Labels = map[string]string{"x": "y"}
	upd, err := deps.Update(ctx, again, metav1.UpdateOptions{FieldManager: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	hasCarol := false
	for _, mf := range upd.ManagedFields {
		hasCarol = hasCarol || (mf.Manager == "carol" && mf.Operation == metav1.ManagedFieldsOperationUpdate)
	}
	if !hasCarol {
		t.Fatalf("update not tracked: %+v", upd.ManagedFields)
	}
	_ = appsv1.Deployment{}
}
