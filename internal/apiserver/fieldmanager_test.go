package apiserver

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
)

// podFieldManagers are the main and status field managers of pods, as
// newEndpoint builds them, over the type converter tc.
func podFieldManagers(t testing.TB, tc managedfields.TypeConverter) (main, status *managedfields.FieldManager) {
	t.Helper()
	res := resources.Pods()
	main, status, err := newFieldManagers(newScheme(), res, res.GVK(), tc)
	if err != nil {
		t.Fatal(err)
	}
	return main, status
}

func fmPod(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// TestNoManagedFieldsConverterSameManagedFields runs one pod's life of
// writes (create, status updates, updates by two managers, a server-side
// apply and a forced one, an update that takes a field away) through the
// field managers with upstream's converter and with the one skiff uses,
// and requires the same objects and managedFields from both, with the
// live objects left as they were.
func TestNoManagedFieldsConverterSameManagedFields(t *testing.T) {
	plainMain, plainStatus := podFieldManagers(t, applyconfigurations.NewTypeConverter(newScheme()))
	oursMain, oursStatus := podFieldManagers(t, newNoManagedFieldsConverter(newScheme()))

	type step struct {
		name    string
		status  bool
		apply   bool
		force   bool
		manager string
		next    func(live *corev1.Pod) runtime.Object
	}
	ts := metav1.NewTime(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	steps := []step{
		{name: "create", manager: "kube-controller-manager", next: func(*corev1.Pod) runtime.Object { return fmPod(nil) }},
		{name: "kubelet status", status: true, manager: "kubelet", next: func(live *corev1.Pod) runtime.Object {
			p := live.DeepCopy()
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.7", PodIPs: []corev1.PodIP{{IP: "10.42.0.7"}},
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: ts}}}
			return p
		}},
		{name: "kubelet status again", status: true, manager: "kubelet", next: func(live *corev1.Pod) runtime.Object {
			p := live.DeepCopy()
			p.Status.Conditions[0].Status = corev1.ConditionTrue
			p.Status.HostIP = "172.30.0.2"
			return p
		}},
		{name: "label by another manager", manager: "kubectl-label", next: func(live *corev1.Pod) runtime.Object {
			p := live.DeepCopy()
			p.Labels["tier"] = "front"
			return p
		}},
		{name: "update without managedFields", manager: "old-client", next: func(live *corev1.Pod) runtime.Object {
			p := live.DeepCopy()
			p.ManagedFields = nil
			p.Annotations = map[string]string{"note": "x"}
			return p
		}},
		{name: "apply", apply: true, manager: "deployer", next: func(*corev1.Pod) runtime.Object {
			return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": "web-1", "namespace": "default", "labels": map[string]any{"app": "web", "team": "a"}}}}
		}},
		{name: "forced apply taking a label", apply: true, force: true, manager: "other-deployer", next: func(*corev1.Pod) runtime.Object {
			return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": "web-1", "namespace": "default", "labels": map[string]any{"team": "b"}}}}
		}},
		{name: "update dropping a label", manager: "kubectl-label", next: func(live *corev1.Pod) runtime.Object {
			p := live.DeepCopy()
			delete(p.Labels, "tier")
			return p
		}},
	}

	plainLive, oursLive := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}, &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
	for _, st := range steps {
		run := func(main, status *managedfields.FieldManager, live *corev1.Pod) *corev1.Pod {
			t.Helper()
			before := live.DeepCopy()
			fm := main
			if st.status {
				fm = status
			}
			var out runtime.Object
			if st.apply {
				var err error
				if out, err = fm.Apply(live, st.next(live), st.manager, st.force); err != nil {
					t.Fatalf("%s: apply: %v", st.name, err)
				}
			} else {
				out = fm.UpdateNoErrors(live, st.next(live), st.manager)
			}
			if !equality.Semantic.DeepEqual(before, live) {
				t.Fatalf("%s: the field manager changed the live object", st.name)
			}
			p, ok := out.(*corev1.Pod)
			if !ok {
				t.Fatalf("%s: got %T", st.name, out)
			}
			// The entries' times are the clock's; the two runs may straddle a second.
			for i := range p.ManagedFields {
				p.ManagedFields[i].Time = &ts
			}
			return p
		}
		plainLive = run(plainMain, plainStatus, plainLive)
		oursLive = run(oursMain, oursStatus, oursLive)
		if !equality.Semantic.DeepEqual(plainLive, oursLive) {
			t.Fatalf("%s: upstream's converter gave\n%+v\nskiff's gave\n%+v", st.name, plainLive, oursLive)
		}
		if len(oursLive.ManagedFields) == 0 {
			t.Fatalf("%s: no managedFields", st.name)
		}
	}
	managers := map[string]bool{}
	for _, e := range oursLive.ManagedFields {
		managers[e.Manager] = true
	}
	for _, m := range []string{"kube-controller-manager", "kubelet", "old-client", "deployer", "other-deployer"} {
		if !managers[m] {
			t.Errorf("no managedFields entry for %s: %v", m, oursLive.ManagedFields)
		}
	}
	// kubectl-label's one field is gone, and its entry with it.
	if managers["kubectl-label"] {
		t.Errorf("kubectl-label still has an entry: %v", oursLive.ManagedFields)
	}
	if oursLive.Labels["team"] != "b" || oursLive.Labels["tier"] != "" {
		t.Errorf("labels %v, want team=b and no tier", oursLive.Labels)
	}
}

// TestNoManagedFieldsConverterSameOddLists: the updates a schema check
// could object to, with duplicates allowed as updates allow them (the
// same key twice, a set with a repeated value, list items without one of
// their keys), go through skiff's converter, which checks only a kind's
// first conversion in full, as through upstream's: no error from either,
// and the same object and managedFields.
func TestNoManagedFieldsConverterSameOddLists(t *testing.T) {
	plainMain, plainStatus := podFieldManagers(t, applyconfigurations.NewTypeConverter(newScheme()))
	ours := newNoManagedFieldsConverter(newScheme())
	oursMain, oursStatus := podFieldManagers(t, ours)
	ts := metav1.NewTime(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	write := func(fm *managedfields.FieldManager, live, next *corev1.Pod) *corev1.Pod {
		t.Helper()
		if _, err := fm.Update(live, next.DeepCopy(), "kubectl-edit"); err != nil {
			t.Fatal(err)
		}
		p, ok := fm.UpdateNoErrors(live, next.DeepCopy(), "kubectl-edit").(*corev1.Pod)
		if !ok {
			t.Fatal("not a pod")
		}
		for i := range p.ManagedFields {
			p.ManagedFields[i].Time = &ts
		}
		return p
	}
	empty := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
	plainLive, oursLive := write(plainMain, empty, fmPod(nil)), write(oursMain, empty, fmPod(nil))
	// The steps below take the unchecked path.
	if _, ok := ours.kinds.Load(corev1.SchemeGroupVersion.WithKind("Pod")); !ok {
		t.Fatal("the first conversion did not record the pod's schema type")
	}
	for _, c := range []struct {
		name   string
		status bool
		mutate func(*corev1.Pod)
	}{
		{"the same env name twice", false, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "A", Value: "2"}}
		}},
		{"a finalizer twice", false, func(p *corev1.Pod) { p.Finalizers = []string{"x/y", "x/y"} }},
		{"an image pull secret without a name", false, func(p *corev1.Pod) {
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{}}
		}},
		{"a port without its protocol", false, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 80}}
		}},
		{"a condition without a type", true, func(p *corev1.Pod) { p.Status.Conditions = []corev1.PodCondition{{}, {}} }},
	} {
		next := func(live *corev1.Pod) *corev1.Pod {
			p := live.DeepCopy()
			c.mutate(p)
			return p
		}
		pm, om := plainMain, oursMain
		if c.status {
			pm, om = plainStatus, oursStatus
		}
		plainLive, oursLive = write(pm, plainLive, next(plainLive)), write(om, oursLive, next(oursLive))
		if !equality.Semantic.DeepEqual(plainLive, oursLive) {
			t.Fatalf("%s: upstream's converter gave\n%+v\nskiff's gave\n%+v", c.name, plainLive, oursLive)
		}
		if len(oursLive.ManagedFields) == 0 {
			t.Fatalf("%s: no managedFields", c.name)
		}
	}
}

func TestWithoutManagedFieldsLeavesTheObject(t *testing.T) {
	p := benchPods(1, time.Now()).Items[0]
	p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	got := withoutManagedFields(&p).(*corev1.Pod)
	if len(got.ManagedFields) != 0 || len(p.ManagedFields) != 2 || got.Name != p.Name || got.Status.PodIP != p.Status.PodIP {
		t.Fatalf("copy has %d managedFields (want 0), original %d (want 2)", len(got.ManagedFields), len(p.ManagedFields))
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "a", "managedFields": []any{map[string]any{"manager": "m"}}}}}
	gu := withoutManagedFields(u).(*unstructured.Unstructured)
	if _, ok := gu.Object["metadata"].(map[string]any)["managedFields"]; ok || gu.GetName() != "a" {
		t.Fatalf("unstructured copy: %v", gu.Object)
	}
	if len(u.GetManagedFields()) != 1 {
		t.Fatalf("unstructured original lost its managedFields: %v", u.Object)
	}
	bare := &corev1.Pod{}
	if withoutManagedFields(bare) != runtime.Object(bare) {
		t.Fatal("an object without managedFields should be used as it is")
	}
}

// BenchmarkPodStatusFieldManager is a kubelet's status update of a
// running pod with the managedFields of its controller and kubelet, as
// the field manager sees it, with upstream's converter and with skiff's.
func BenchmarkPodStatusFieldManager(b *testing.B) {
	live := benchPods(1, time.Now()).Items[0]
	live.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	for _, c := range []struct {
		name string
		tc   managedfields.TypeConverter
	}{
		{"upstream", applyconfigurations.NewTypeConverter(newScheme())},
		{"skiff", newNoManagedFieldsConverter(newScheme())},
	} {
		b.Run(c.name, func(b *testing.B) {
			_, status := podFieldManagers(b, c.tc)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				next := live.DeepCopy()
				next.Status.Conditions[0].LastTransitionTime = metav1.NewTime(time.Unix(int64(i), 0))
				if out := status.UpdateNoErrors(&live, next, "kubelet"); out == nil {
					b.Fatal("no object")
				}
			}
		})
	}
}

func TestKeepManagedFieldsIfUnchanged(t *testing.T) {
	t1, t2 := metav1.NewTime(time.Unix(100, 0)), metav1.NewTime(time.Unix(200, 0))
	entry := func(at *metav1.Time, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
			Time: at, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}, Subresource: "status"}
	}
	const set = `{"f:status":{"f:phase":{}}}`
	current := fmPod(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.ManagedFields = []metav1.ManagedFieldsEntry{entry(&t1, set)}
	})
	cases := []struct {
		name     string
		change   func(*corev1.Pod)
		wantTime *metav1.Time
		wantSet  string
	}{
		{"nothing but the entry's time", func(p *corev1.Pod) {}, &t1, set},
		{"the phase", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, &t2, set},
		{"the managed set", func(p *corev1.Pod) { p.ManagedFields[0].FieldsV1.Raw = []byte(`{"f:status":{}}`) }, &t2, `{"f:status":{}}`},
		{"a manager more", func(p *corev1.Pod) {
			p.ManagedFields = append(p.ManagedFields, entry(&t2, `{"f:metadata":{}}`))
			p.ManagedFields[1].Manager = "other"
		}, &t2, set},
	}
	for _, c := range cases {
		obj := current.DeepCopy()
		obj.ManagedFields = []metav1.ManagedFieldsEntry{entry(&t2, set)}
		c.change(obj)
		keepManagedFieldsIfUnchanged(obj, current)
		if got := obj.ManagedFields[0]; !got.Time.Equal(c.wantTime) || string(got.FieldsV1.Raw) != c.wantSet {
			t.Errorf("%s: entry at %v with %s, want %v with %s", c.name, got.Time, got.FieldsV1.Raw, c.wantTime, c.wantSet)
		}
	}
}
