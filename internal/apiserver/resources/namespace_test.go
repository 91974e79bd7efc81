package resources

import (
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// fieldErrorKeys renders errs as sorted "<type> <field>" strings, the
// shape the validation tables of this package's core resources compare.
func fieldErrorKeys(errs field.ErrorList) []string {
	keys := []string{}
	for _, e := range errs {
		keys = append(keys, string(e.Type)+" "+e.Field)
	}
	slices.Sort(keys)
	return keys
}

func expectFieldErrors(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	slices.Sort(want)
	if got := fieldErrorKeys(errs); !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q, want %q\n%v", got, want, errs)
	}
}

func testNamespace(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "u1", ResourceVersion: "3"}}
	r := Namespaces()
	r.Default(ns)
	r.PrepareForCreate(ns)
	if errs := r.Validate(ns); len(errs) > 0 {
		t.Fatalf("test namespace is invalid: %v", errs)
	}
	return ns
}

func TestNamespaceDescriptor(t *testing.T) {
	r := Namespaces()
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("Namespace") || r.Namespaced || !r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"ns"}) || len(r.Subresources) != 1 || r.Subresources[0].Name != "finalize" {
		t.Errorf("descriptor = %+v", r)
	}
	if got := r.Fields(r.New()); !reflect.DeepEqual(got, fields.Set{"status.phase": ""}) {
		t.Errorf("fields of an empty namespace = %v", got)
	}
}

func TestNamespaceCreate(t *testing.T) {
	ns := testNamespace(t, "web")
	if ns.Status.Phase != corev1.NamespaceActive || !reflect.DeepEqual(ns.Spec.Finalizers, []corev1.FinalizerName{"kubernetes"}) {
		t.Errorf("created namespace = %+v", ns)
	}
	if ns.Labels[corev1.LabelMetadataName] != "web" {
		t.Errorf("labels = %v, want the name label", ns.Labels)
	}
	// Other finalizers are kept, and "kubernetes" is added once.
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/wait"}}}
	Namespaces().PrepareForCreate(other)
	Namespaces().PrepareForCreate(other)
	if want := []corev1.FinalizerName{"example.com/wait", "kubernetes"}; !reflect.DeepEqual(other.Spec.Finalizers, want) {
		t.Errorf("finalizers = %v, want %v", other.Spec.Finalizers, want)
	}
}

func TestValidateNamespace(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(ns *corev1.Namespace)
		want   []string
	}{
		{"valid", func(*corev1.Namespace) {}, nil},
		{"name not a DNS label", func(ns *corev1.Namespace) { ns.Name = "a.b" }, []string{"FieldValueInvalid metadata.name"}},
		{"unqualified finalizer", func(ns *corev1.Namespace) { ns.Spec.Finalizers = append(ns.Spec.Finalizers, "wait") },
			[]string{"FieldValueInvalid spec.finalizers[1]"}},
		{"namespace set", func(ns *corev1.Namespace) { ns.Namespace = "default" }, []string{"FieldValueForbidden metadata.namespace"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := testNamespace(t, "web")
			tc.mutate(ns)
			expectFieldErrors(t, Namespaces().Validate(ns), tc.want...)
		})
	}
}

func TestNamespaceUpdateKeepsFinalizersAndStatus(t *testing.T) {
	old := testNamespace(t, "web")
	ns := old.DeepCopy()
	ns.Spec.Finalizers = nil
	ns.Status.Phase = corev1.NamespaceTerminating
	ns.Labels["team"] = "a"
	r := Namespaces()
	r.PrepareForUpdate(ns, old)
	if !reflect.DeepEqual(ns.Spec, old.Spec) || !reflect.DeepEqual(ns.Status, old.Status) || ns.Labels["team"] != "a" {
		t.Errorf("updated namespace = %+v", ns)
	}
	expectFieldErrors(t, r.ValidateUpdate(ns, old))
}

func TestNamespaceStatusUpdate(t *testing.T) {
	old := testNamespace(t, "web")
	r := Namespaces()
	ns := old.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	expectFieldErrors(t, r.ValidateStatusUpdate(ns, old), "FieldValueInvalid status.phase")
	now := metav1.Now()
	old.DeletionTimestamp, ns.DeletionTimestamp = &now, &now
	expectFieldErrors(t, r.ValidateStatusUpdate(ns, old))
	ns.Status.Phase = corev1.NamespaceActive
	expectFieldErrors(t, r.ValidateStatusUpdate(ns, old), "FieldValueInvalid status.phase")
}

func TestNamespaceBeforeDelete(t *testing.T) {
	r := Namespaces()
	for _, name := range []string{"default", "kube-system", "kube-public"} {
		keep, err := r.BeforeDelete(testNamespace(t, name))
		if !apierrors.IsForbidden(err) || keep {
			t.Fatalf("delete %s: keep=%v err=%v, want Forbidden", name, keep, err)
		}
		if want := `namespaces "` + name + `" is forbidden: this namespace may not be deleted`; err.Error() != want {
			t.Errorf("message = %q, want %q", err.Error(), want)
		}
	}

	ns := testNamespace(t, "web")
	keep, err := r.BeforeDelete(ns)
	if err != nil || !keep || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("first delete: keep=%v err=%v phase=%s, want kept and Terminating", keep, err, ns.Status.Phase)
	}
	ns.Spec.Finalizers = nil
	if keep, err := r.BeforeDelete(ns); err != nil || keep {
		t.Errorf("delete after finalize: keep=%v err=%v, want removal", keep, err)
	}
}

func TestFinalizeNamespace(t *testing.T) {
	old := testNamespace(t, "web")
	old.Status.Phase = corev1.NamespaceTerminating
	sent := old.DeepCopy()
	sent.Spec.Finalizers = nil
	sent.Labels = map[string]string{"changed": "yes"}
	sent.Status.Phase = corev1.NamespaceActive
	FinalizeNamespace(sent, old)
	want := old.DeepCopy()
	want.Spec.Finalizers = nil
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("finalized = %+v\nwant %+v", sent, want)
	}
	if len(old.Spec.Finalizers) != 1 {
		t.Errorf("old was modified: %v", old.Spec.Finalizers)
	}
	expectFieldErrors(t, Namespaces().ValidateUpdate(sent, old))
}
