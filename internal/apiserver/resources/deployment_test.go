package resources

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// testDeployment is a created deployment: prepared, defaulted and valid.
func testDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1", ResourceVersion: "5"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	r := Deployments()
	r.Default(d)
	r.PrepareForCreate(d)
	if errs := r.Validate(d); len(errs) > 0 {
		t.Fatalf("test deployment is invalid: %v", errs)
	}
	return d
}

func TestDeploymentGolden(t *testing.T) {
	checkCreateGolden(t, Deployments(), "deployment-minimal")
}

func TestDeploymentDescriptor(t *testing.T) {
	r := Deployments()
	if r.GVK() != appsv1.SchemeGroupVersion.WithKind("Deployment") || r.Resource != "deployments" || !r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"deploy"}) || !reflect.DeepEqual(r.Categories, []string{"all"}) || r.Scale == nil {
		t.Errorf("descriptor = %+v", r)
	}
}

func TestDeploymentDefaultStrategy(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	Deployments().Default(d)
	if d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate got rollingUpdate %+v", d.Spec.Strategy.RollingUpdate)
	}
	surge := intstr.FromInt32(2)
	d = &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge}}}}
	Deployments().Default(d)
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru.MaxSurge.IntValue() != 2 || ru.MaxUnavailable.String() != "25%" {
		t.Errorf("strategy = %+v %+v", d.Spec.Strategy, ru)
	}
}

func TestValidateDeployment(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int32) *intstr.IntOrString { v := intstr.FromInt32(n); return &v }
	cases := []struct {
		name   string
		mutate func(s *appsv1.DeploymentSpec)
		want   []string
	}{
		{"valid", func(s *appsv1.DeploymentSpec) {}, nil},
		{"no selector", func(s *appsv1.DeploymentSpec) { s.Selector = nil }, []string{"FieldValueRequired spec.selector"}},
		{"empty selector", func(s *appsv1.DeploymentSpec) { s.Selector = &metav1.LabelSelector{} }, []string{"FieldValueInvalid spec.selector"}},
		{"selector does not match", func(s *appsv1.DeploymentSpec) { s.Selector.MatchLabels["app"] = "api" },
			[]string{"FieldValueInvalid spec.template.metadata.labels"}},
		{"bad selector operator", func(s *appsv1.DeploymentSpec) {
			s.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}
		}, []string{"FieldValueInvalid spec.selector", "FieldValueInvalid spec.selector.matchExpressions[0].operator"}},
		{"restart policy", func(s *appsv1.DeploymentSpec) { s.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"FieldValueNotSupported spec.template.spec.restartPolicy"}},
		{"deadline", func(s *appsv1.DeploymentSpec) { s.Template.Spec.ActiveDeadlineSeconds = podspecRef(int64(10)) },
			[]string{"FieldValueForbidden spec.template.spec.activeDeadlineSeconds"}},
		{"template image", func(s *appsv1.DeploymentSpec) { s.Template.Spec.Containers[0].Image = "" },
			[]string{"FieldValueRequired spec.template.spec.containers[0].image"}},
		{"negative numbers", func(s *appsv1.DeploymentSpec) {
			s.Replicas = podspecRef(int32(-1))
			s.MinReadySeconds = -1
			s.RevisionHistoryLimit = podspecRef(int32(-1))
		}, []string{"FieldValueInvalid spec.replicas", "FieldValueInvalid spec.minReadySeconds", "FieldValueInvalid spec.revisionHistoryLimit"}},
		{"progress deadline", func(s *appsv1.DeploymentSpec) { s.MinReadySeconds = 600 },
			[]string{"FieldValueInvalid spec.progressDeadlineSeconds"}},
		{"bad surge", func(s *appsv1.DeploymentSpec) { s.Strategy.RollingUpdate.MaxSurge = pct("lots") },
			[]string{"FieldValueInvalid spec.strategy.rollingUpdate.maxSurge"}},
		{"negative surge", func(s *appsv1.DeploymentSpec) { s.Strategy.RollingUpdate.MaxSurge = num(-1) },
			[]string{"FieldValueInvalid spec.strategy.rollingUpdate.maxSurge"}},
		{"both zero", func(s *appsv1.DeploymentSpec) {
			s.Strategy.RollingUpdate.MaxSurge = num(0)
			s.Strategy.RollingUpdate.MaxUnavailable = pct("0%")
		}, []string{"FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable"}},
		{"over 100%", func(s *appsv1.DeploymentSpec) { s.Strategy.RollingUpdate.MaxUnavailable = pct("150%") },
			[]string{"FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable"}},
		{"surge over 100% is fine", func(s *appsv1.DeploymentSpec) { s.Strategy.RollingUpdate.MaxSurge = pct("150%") }, nil},
		{"recreate with rolling update", func(s *appsv1.DeploymentSpec) { s.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			[]string{"FieldValueForbidden spec.strategy.rollingUpdate"}},
		{"unknown strategy", func(s *appsv1.DeploymentSpec) { s.Strategy.Type = "BlueGreen" },
			[]string{"FieldValueNotSupported spec.strategy.type"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := testDeployment(t)
			tc.mutate(&d.Spec)
			checkErrorKeys(t, Deployments().Validate(d), tc.want)
		})
	}
}

func TestDeploymentSelectorMismatchMessage(t *testing.T) {
	d := testDeployment(t)
	d.Spec.Selector.MatchLabels["app"] = "api"
	errs := Deployments().Validate(d)
	if len(errs) != 1 || !strings.HasSuffix(errs[0].Error(), "`selector` does not match template `labels`") {
		t.Errorf("errors = %v", errs)
	}
}

func TestDeploymentUpdate(t *testing.T) {
	old := testDeployment(t)
	d := old.DeepCopy()
	d.Spec.Replicas = podspecRef(int32(3))
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	d.Status.Replicas = 7
	r := Deployments()
	r.Default(d)
	checkErrorKeys(t, r.ValidateUpdate(d, old), nil)

	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "front"}}
	checkErrorKeys(t, r.ValidateUpdate(d, old), []string{"FieldValueInvalid spec.selector"})
}

func TestDeploymentGenerationChanged(t *testing.T) {
	old := testDeployment(t)
	for _, tc := range []struct {
		name   string
		mutate func(d *appsv1.Deployment)
		want   bool
	}{
		{"nothing", func(d *appsv1.Deployment) {}, false},
		{"replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = podspecRef(int32(4)) }, true},
		{"annotations", func(d *appsv1.Deployment) { d.Annotations = map[string]string{"kubernetes.io/change-cause": "x"} }, true},
		{"labels", func(d *appsv1.Deployment) { d.Labels = map[string]string{"a": "b"} }, false},
		{"status", func(d *appsv1.Deployment) { d.Status.Replicas = 3 }, false},
	} {
		d := old.DeepCopy()
		tc.mutate(d)
		if got := Deployments().GenerationChanged(d, old); got != tc.want {
			t.Errorf("%s: GenerationChanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDeploymentScale(t *testing.T) {
	d := testDeployment(t)
	d.Status.Replicas = 2
	d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front"}}}
	s := Deployments().Scale
	if spec, status, sel := s.Get(d); spec != 1 || status != 2 || sel != "app=web,tier in (front)" {
		t.Errorf("scale = %d %d %q", spec, status, sel)
	}
	s.SetReplicas(d, 5)
	if *d.Spec.Replicas != 5 {
		t.Errorf("replicas = %d", *d.Spec.Replicas)
	}
}

func TestDeploymentStatusUpdate(t *testing.T) {
	old := testDeployment(t)
	old.Status.CollisionCount = podspecRef(int32(2))
	for _, tc := range []struct {
		name string
		st   appsv1.DeploymentStatus
		want []string
	}{
		{"valid", appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2,
			UnavailableReplicas: 1, CollisionCount: podspecRef(int32(2))}, nil},
		{"negative", appsv1.DeploymentStatus{ObservedGeneration: -1, UnavailableReplicas: -1, CollisionCount: podspecRef(int32(2))},
			[]string{"FieldValueInvalid status.observedGeneration", "FieldValueInvalid status.unavailableReplicas"}},
		{"counts above replicas", appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 2,
			CollisionCount: podspecRef(int32(3))}, []string{
			"FieldValueInvalid status.updatedReplicas",
			"FieldValueInvalid status.availableReplicas",
			"FieldValueInvalid status.availableReplicas",
		}},
		{"collision count decremented", appsv1.DeploymentStatus{CollisionCount: podspecRef(int32(1))}, []string{"FieldValueInvalid status.collisionCount"}},
	} {
		d := old.DeepCopy()
		d.Status = tc.st
		t.Run(tc.name, func(t *testing.T) { checkErrorKeys(t, Deployments().ValidateStatusUpdate(d, old), tc.want) })
	}
}
