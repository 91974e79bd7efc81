package resources

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// testReplicaSet is a created replica set: prepared, defaulted and valid.
func testReplicaSet(t *testing.T) *appsv1.ReplicaSet {
	t.Helper()
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d4f8", Namespace: "default", UID: "u1", ResourceVersion: "5"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "5d4f8"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "pod-template-hash": "5d4f8"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	r := ReplicaSets()
	r.Default(rs)
	r.PrepareForCreate(rs)
	if errs := r.Validate(rs); len(errs) > 0 {
		t.Fatalf("test replica set is invalid: %v", errs)
	}
	return rs
}

func TestReplicaSetGolden(t *testing.T) {
	checkCreateGolden(t, ReplicaSets(), "replicaset-minimal")
}

func TestReplicaSetDescriptor(t *testing.T) {
	r := ReplicaSets()
	if r.GVK() != appsv1.SchemeGroupVersion.WithKind("ReplicaSet") || r.Resource != "replicasets" || !r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"rs"}) || !reflect.DeepEqual(r.Categories, []string{"all"}) || r.Scale == nil {
		t.Errorf("descriptor = %+v", r)
	}
}

func TestValidateReplicaSet(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *appsv1.ReplicaSetSpec)
		want   []string
	}{
		{"valid", func(s *appsv1.ReplicaSetSpec) {}, nil},
		{"no selector", func(s *appsv1.ReplicaSetSpec) { s.Selector = nil }, []string{"FieldValueRequired spec.selector"}},
		{"empty selector", func(s *appsv1.ReplicaSetSpec) { s.Selector = &metav1.LabelSelector{} }, []string{"FieldValueInvalid spec.selector"}},
		{"selector does not match", func(s *appsv1.ReplicaSetSpec) { s.Template.Labels = map[string]string{"app": "web"} },
			[]string{"FieldValueInvalid spec.template.metadata.labels"}},
		{"negative", func(s *appsv1.ReplicaSetSpec) { s.Replicas = podspecRef(int32(-2)); s.MinReadySeconds = -1 },
			[]string{"FieldValueInvalid spec.replicas", "FieldValueInvalid spec.minReadySeconds"}},
		{"restart policy", func(s *appsv1.ReplicaSetSpec) { s.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			[]string{"FieldValueNotSupported spec.template.spec.restartPolicy"}},
		{"no containers", func(s *appsv1.ReplicaSetSpec) { s.Template.Spec.Containers = nil },
			[]string{"FieldValueRequired spec.template.spec.containers"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := testReplicaSet(t)
			tc.mutate(&rs.Spec)
			checkErrorKeys(t, ReplicaSets().Validate(rs), tc.want)
		})
	}
}

func TestReplicaSetUpdate(t *testing.T) {
	old := testReplicaSet(t)
	rs := old.DeepCopy()
	rs.Spec.Replicas = podspecRef(int32(0))
	rs.Status.Replicas = 4
	r := ReplicaSets()
	checkErrorKeys(t, r.ValidateUpdate(rs, old), nil)
	if !r.GenerationChanged(rs, old) {
		t.Errorf("a replicas change did not bump the generation")
	}
	rs.Spec.Selector.MatchLabels = map[string]string{"app": "web"}
	checkErrorKeys(t, r.ValidateUpdate(rs, old), []string{"FieldValueInvalid spec.selector"})

	labelsOnly := old.DeepCopy()
	labelsOnly.Labels = map[string]string{"a": "b"}
	if r.GenerationChanged(labelsOnly, old) {
		t.Errorf("a label change bumped the generation")
	}
}

func TestReplicaSetScaleAndFields(t *testing.T) {
	rs := testReplicaSet(t)
	rs.Status.Replicas = 3
	r := ReplicaSets()
	if spec, status, sel := r.Scale.Get(rs); spec != 1 || status != 3 || sel != "app=web,pod-template-hash=5d4f8" {
		t.Errorf("scale = %d %d %q", spec, status, sel)
	}
	r.Scale.SetReplicas(rs, 0)
	if *rs.Spec.Replicas != 0 {
		t.Errorf("replicas = %d", *rs.Spec.Replicas)
	}
	if got := r.Fields(rs); !reflect.DeepEqual(got, fields.Set{"status.replicas": "3"}) {
		t.Errorf("fields = %v", got)
	}
}

func TestReplicaSetStatusUpdate(t *testing.T) {
	old := testReplicaSet(t)
	for _, tc := range []struct {
		name string
		st   appsv1.ReplicaSetStatus
		want []string
	}{
		{"valid", appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 1}, nil},
		{"negative", appsv1.ReplicaSetStatus{FullyLabeledReplicas: -1, ObservedGeneration: -1}, []string{
			"FieldValueInvalid status.fullyLabeledReplicas", "FieldValueInvalid status.observedGeneration"}},
		{"above replicas", appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 3}, []string{
			"FieldValueInvalid status.fullyLabeledReplicas",
			"FieldValueInvalid status.readyReplicas",
			"FieldValueInvalid status.availableReplicas",
			"FieldValueInvalid status.availableReplicas",
		}},
	} {
		rs := old.DeepCopy()
		rs.Status = tc.st
		t.Run(tc.name, func(t *testing.T) { checkErrorKeys(t, ReplicaSets().ValidateStatusUpdate(rs, old), tc.want) })
	}
}
