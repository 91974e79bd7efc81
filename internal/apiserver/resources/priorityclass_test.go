package resources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// listedClasses is a PriorityClassLister over a fixed list.
type listedClasses []schedulingv1.PriorityClass

func (l listedClasses) ListPriorityClasses(context.Context) ([]schedulingv1.PriorityClass, error) {
	return append([]schedulingv1.PriorityClass(nil), l...), nil
}

// failingClasses is a lister whose storage is down.
type failingClasses struct{}

func (failingClasses) ListPriorityClasses(context.Context) ([]schedulingv1.PriorityClass, error) {
	return nil, errors.New("etcd is down")
}

// storedClasses reads testdata/pod-priority-classes.yaml plus the built-ins.
func storedClasses(t *testing.T) listedClasses {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "pod-priority-classes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	classes, _ := builtinPriorityClasses{}.ListPriorityClasses(context.Background())
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var pc schedulingv1.PriorityClass
		if err := yaml.UnmarshalStrict(doc, &pc); err != nil {
			t.Fatalf("pod-priority-classes.yaml: %v", err)
		}
		classes = append(classes, pc)
	}
	return classes
}

// createPodWith runs a pod through every create hook, admission last, as
// the apiserver does.
func createPodWith(pcs PriorityClassLister, pod *corev1.Pod) error {
	r := withPodPriority(Pods(), pcs)
	r.Default(pod)
	r.PrepareForCreate(pod)
	if errs := r.Validate(pod); len(errs) > 0 {
		return errs.ToAggregate()
	}
	_, err := r.BeforeCreate(context.Background(), pod, false)
	return err
}

// TestPodPriorityGolden: testdata/pod-priority-<case>.in.yaml is created
// against the classes of pod-priority-classes.yaml; the .out.yaml holds
// the resolved priority fields, or the error the client gets. Rewrite
// with SKIFF_UPDATE_GOLDEN=1.
func TestPodPriorityGolden(t *testing.T) {
	classes := storedClasses(t)
	ins, err := filepath.Glob(filepath.Join("testdata", "pod-priority-*.in.yaml"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			pod := &corev1.Pod{}
			if err := yaml.UnmarshalStrict(raw, pod); err != nil {
				t.Fatal(err)
			}
			got := admissionResult(t, createPodWith(classes, pod), pod)
			out := filepath.Join("testdata", name+".out.yaml")
			if workloadGoldenUpdate() {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run with SKIFF_UPDATE_GOLDEN=1 to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs\n--- got\n%s--- want\n%s", out, got, want)
			}
		})
	}
}

// admissionResult renders what the client sees: the pod's priority
// fields, or the Status code, reason and message of the error.
func admissionResult(t *testing.T, err error, pod *corev1.Pod) []byte {
	t.Helper()
	var v any
	if err != nil {
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			t.Fatalf("admission error is not an API status: %v", err)
		}
		s := status.Status()
		v = map[string]any{"code": s.Code, "reason": s.Reason, "message": s.Message}
	} else {
		v = map[string]any{"priorityClassName": pod.Spec.PriorityClassName,
			"priority": pod.Spec.Priority, "preemptionPolicy": pod.Spec.PreemptionPolicy}
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPodPriorityWithoutDefaultClass(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: testPodSpec()}
	if err := createPodWith(nil, pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.PriorityClassName != "" || *pod.Spec.Priority != 0 || *pod.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("class %q priority %d policy %s", pod.Spec.PriorityClassName, *pod.Spec.Priority, *pod.Spec.PreemptionPolicy)
	}

	// Two defaults (a race between creates): the lower value wins.
	two := listedClasses{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Value: 50, GlobalDefault: true},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Value: 20, GlobalDefault: true},
	}
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: testPodSpec()}
	if err := createPodWith(two, pod); err != nil || pod.Spec.PriorityClassName != "b" || *pod.Spec.Priority != 20 {
		t.Errorf("two defaults: %v, class %q", err, pod.Spec.PriorityClassName)
	}

	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: testPodSpec()}
	if err := createPodWith(failingClasses{}, pod); err == nil || apierrors.IsForbidden(err) {
		t.Errorf("storage failure gave %v", err)
	}
}

func TestPodPriorityKeptOnUpdate(t *testing.T) {
	old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", ResourceVersion: "3"}, Spec: testPodSpec()}
	old.Spec.PriorityClassName = "high"
	if err := createPodWith(storedClasses(t), old); err != nil {
		t.Fatal(err)
	}
	r := withPodPriority(Pods(), nil)
	pod := old.DeepCopy()
	pod.Spec.Priority, pod.Spec.PreemptionPolicy = nil, nil
	r.Default(pod)
	r.PrepareForUpdate(pod, old)
	if *pod.Spec.Priority != 1000 || *pod.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("update lost priority: %v %v", pod.Spec.Priority, pod.Spec.PreemptionPolicy)
	}
	expectFieldErrors(t, r.ValidateUpdate(pod, old))
}

func TestValidatePriorityClass(t *testing.T) {
	never := corev1.PreemptNever
	bogus := corev1.PreemptionPolicy("Sometimes")
	cases := []struct {
		name string
		pc   schedulingv1.PriorityClass
		want []string
	}{
		{"user class", schedulingv1.PriorityClass{Value: 1000}, nil},
		{"highest user value", schedulingv1.PriorityClass{Value: HighestUserDefinablePriority}, nil},
		{"negative value", schedulingv1.PriorityClass{Value: -5, PreemptionPolicy: &never}, nil},
		{"above user range", schedulingv1.PriorityClass{Value: HighestUserDefinablePriority + 1}, []string{"FieldValueForbidden value"}},
		{"bad policy", schedulingv1.PriorityClass{Value: 1, PreemptionPolicy: &bogus}, []string{"FieldValueNotSupported preemptionPolicy"}},
		{"reserved prefix", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 1}, []string{"FieldValueForbidden metadata.name"}},
		{"built-in with other value", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: SystemNodeCritical}, Value: 5}, []string{"FieldValueForbidden metadata.name"}},
		{"built-in as default", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: SystemClusterCritical}, Value: SystemCriticalPriority, GlobalDefault: true}, []string{"FieldValueForbidden metadata.name"}},
		{"built-in", schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: SystemClusterCritical}, Value: SystemCriticalPriority}, nil},
	}
	r := PriorityClasses(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc := tc.pc.DeepCopy()
			if pc.Name == "" {
				pc.Name = "some-class"
			}
			r.Default(pc)
			expectFieldErrors(t, r.Validate(pc), tc.want...)
		})
	}
	for _, pc := range SystemPriorityClasses() {
		r.Default(pc)
		expectFieldErrors(t, r.Validate(pc))
	}
}

func TestPriorityClassUpdateKeepsValueAndPolicy(t *testing.T) {
	r := PriorityClasses(nil)
	old := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high", ResourceVersion: "4"}, Value: 1000}
	r.Default(old)
	desc := old.DeepCopy()
	desc.Description = "now described"
	desc.GlobalDefault = true
	expectFieldErrors(t, r.ValidateUpdate(desc, old))

	value := old.DeepCopy()
	value.Value = 1001
	expectFieldErrors(t, r.ValidateUpdate(value, old), "FieldValueForbidden value")

	policy := old.DeepCopy()
	policy.PreemptionPolicy = podspecRef(corev1.PreemptNever)
	expectFieldErrors(t, r.ValidateUpdate(policy, old), "FieldValueInvalid preemptionPolicy")
}

func TestPriorityClassSingleGlobalDefault(t *testing.T) {
	stored := listedClasses{{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Value: 100, GlobalDefault: true}}
	r := PriorityClasses(stored)
	ctx := context.Background()

	second := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Value: 5, GlobalDefault: true}
	_, err := r.BeforeCreate(ctx, second, false)
	want := `priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass standard is already marked as default. Only one default can exist`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("second default: %v", err)
	}
	if _, err := r.BeforeUpdate(ctx, second, second, false); !apierrors.IsForbidden(err) {
		t.Errorf("update to a second default: %v", err)
	}
	// The default itself may be rewritten, and non-defaults come freely.
	if _, err := r.BeforeUpdate(ctx, &stored[0], &stored[0], false); err != nil {
		t.Errorf("updating the default: %v", err)
	}
	second.GlobalDefault = false
	if _, err := r.BeforeCreate(ctx, second, false); err != nil {
		t.Errorf("non-default: %v", err)
	}
}

func TestPriorityClassBuiltinsUndeletable(t *testing.T) {
	r := PriorityClasses(nil)
	if r.GVK() != schedulingv1.SchemeGroupVersion.WithKind("PriorityClass") || r.Namespaced || r.ShortNames[0] != "pc" {
		t.Errorf("descriptor = %+v", r)
	}
	for _, pc := range SystemPriorityClasses() {
		keep, err := r.BeforeDelete(pc)
		want := fmt.Sprintf(`priorityclasses.scheduling.k8s.io %q is forbidden: this is a system priority class and cannot be deleted`, pc.Name)
		if keep || err == nil || err.Error() != want {
			t.Errorf("delete %s: keep=%v err=%v", pc.Name, keep, err)
		}
	}
	if keep, err := r.BeforeDelete(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}}); keep || err != nil {
		t.Errorf("delete of a user class: keep=%v err=%v", keep, err)
	}
}
