package apiserver

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
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
// the field manager sees it (the new object carrying the stored spec, as
// the status path copies it): with upstream's converter, with skiff's,
// and with skiff's through updateManagedFields, as the server calls it.
func BenchmarkPodStatusFieldManager(b *testing.B) {
	live := benchPods(1, time.Now()).Items[0]
	live.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	for _, c := range []struct {
		name  string
		tc    managedfields.TypeConverter
		parts bool
	}{
		{"upstream", applyconfigurations.NewTypeConverter(newScheme()), false},
		{"skiff", newNoManagedFieldsConverter(newScheme()), false},
		{"skiff-without-equal-parts", newNoManagedFieldsConverter(newScheme()), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			_, status := podFieldManagers(b, c.tc)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				next := live.DeepCopy()
				next.Spec = live.Spec
				next.Status.Conditions[0].LastTransitionTime = metav1.NewTime(time.Unix(int64(i), 0))
				var out runtime.Object
				if c.parts {
					out = updateManagedFields(status, "v1", &live, next, "kubelet")
				} else {
					out = status.UpdateNoErrors(&live, next, "kubelet")
				}
				if out == nil {
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

// TestUpdateManagedFieldsSameAsFieldManager runs random sequences of pod
// and Deployment writes (status updates carrying the stored spec, as the
// server's status path copies it, or a decoded copy of it; updates of
// images, labels, annotations, tolerations nil or empty, resources,
// finalizers and a graceful delete; no-op writes; clients that drop
// managedFields or send an entry of another version; several managers)
// through the field manager as it is and through updateManagedFields,
// which gives it the objects without their equal parts, and requires the
// same object from both at every step, with the stored object and, but
// for its managedFields, the new one left as they were.
func TestUpdateManagedFieldsSameAsFieldManager(t *testing.T) {
	podMain, podStatus := podFieldManagers(t, newNoManagedFieldsConverter(newScheme()))
	deps := resources.Deployments()
	depMain, depStatus, err := newFieldManagers(newScheme(), deps, deps.GVK(), newNoManagedFieldsConverter(newScheme()))
	if err != nil {
		t.Fatal(err)
	}
	ts := metav1.NewTime(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	managers := []string{"kubelet", "kube-controller-manager", "kubectl-edit", "old-client"}
	pruned := 0

	// write runs one update through both paths and returns the result.
	write := func(seq, step int, fm *managedfields.FieldManager, version string, live, next runtime.Object, manager string) runtime.Object {
		t.Helper()
		liveBefore, nextBefore := live.DeepCopyObject(), next.DeepCopyObject()
		if _, _, ok := withoutEqualParts(live, next, version); ok {
			pruned++
		}
		plain := fm.UpdateNoErrors(live, next.DeepCopyObject(), manager)
		ours := updateManagedFields(fm, version, live, next, manager)
		if ours != next {
			t.Fatalf("seq %d step %d: updateManagedFields returned another object", seq, step)
		}
		for _, o := range []runtime.Object{plain, ours} {
			acc, _ := meta.Accessor(o)
			mf := acc.GetManagedFields()
			for i := range mf {
				mf[i].Time = &ts // the clock's; the two calls may straddle a second
			}
		}
		if !equality.Semantic.DeepEqual(plain, ours) {
			t.Fatalf("seq %d step %d (%s): the field manager gave\n%+v\nupdateManagedFields gave\n%+v", seq, step, manager, plain, ours)
		}
		if !equality.Semantic.DeepEqual(live, liveBefore) {
			t.Fatalf("seq %d step %d: the stored object changed", seq, step)
		}
		acc, _ := meta.Accessor(nextBefore)
		acc.SetManagedFields(mustAccessor(t, ours).GetManagedFields())
		if !equality.Semantic.DeepEqual(ours, nextBefore) {
			t.Fatalf("seq %d step %d: the new object changed past its managedFields", seq, step)
		}
		return ours
	}

	podSteps := []struct {
		status bool
		mutate func(r *rand.Rand, step int, p *corev1.Pod)
	}{
		{true, func(r *rand.Rand, step int, p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionStatus([]string{"True", "False"}[r.IntN(2)]),
				LastTransitionTime: metav1.NewTime(ts.Add(time.Duration(step) * time.Second))}}
		}},
		{true, func(r *rand.Rand, step int, p *corev1.Pod) {
			ip := fmt.Sprintf("10.42.0.%d", r.IntN(250))
			p.Status.PodIP, p.Status.PodIPs, p.Status.Phase = ip, []corev1.PodIP{{IP: ip}}, corev1.PodRunning
		}},
		{true, func(r *rand.Rand, step int, p *corev1.Pod) {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: fmt.Sprint("c", r.IntN(3)), RestartCount: int32(step)})
		}},
		{true, func(*rand.Rand, int, *corev1.Pod) {}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			p.Spec.Containers[0].Image = fmt.Sprintf("app:%d", r.IntN(3))
		}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			if p.Labels == nil {
				p.Labels = map[string]string{}
			}
			if k := fmt.Sprint("l", r.IntN(3)); r.IntN(2) == 0 {
				p.Labels[k] = "v"
			} else {
				delete(p.Labels, k)
			}
		}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			p.Annotations = map[string]string{"note": fmt.Sprint(r.IntN(3))}
		}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			if r.IntN(2) == 0 {
				p.Spec.Tolerations = []corev1.Toleration{}
			} else {
				p.Spec.Tolerations = nil
			}
		}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(fmt.Sprintf("%dm", 10*(1+r.IntN(3))))}
		}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			p.Finalizers = []string{"example.com/f"}[:r.IntN(2)]
		}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			now, grace := metav1.NewTime(ts.Add(time.Duration(step)*time.Second)), int64(30)
			p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
		}},
		{false, func(r *rand.Rand, step int, p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "A", Value: fmt.Sprint(r.IntN(2))}}
		}},
		{false, func(*rand.Rand, int, *corev1.Pod) {}},
	}
	for seq := range 60 {
		r := rand.New(rand.NewPCG(uint64(seq), 7))
		live := runtime.Object(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}})
		live = podMain.UpdateNoErrors(live, fmPod(func(p *corev1.Pod) { p.UID = "u1" }), "kube-controller-manager")
		for step := range 25 {
			cur := live.(*corev1.Pod)
			st := podSteps[r.IntN(len(podSteps))]
			next := cur.DeepCopy()
			st.mutate(r, step, next)
			fm := podMain
			if st.status {
				fm = podStatus
				if r.IntN(4) > 0 {
					next.Spec = cur.Spec // as the status path copies it
				}
			} else if r.IntN(4) > 0 {
				next.Status = cur.Status
			}
			switch r.IntN(10) {
			case 0:
				next.ManagedFields = nil // a client that drops them
			case 1:
				next.ManagedFields = append(next.ManagedFields, metav1.ManagedFieldsEntry{Manager: "legacy", Operation: metav1.ManagedFieldsOperationUpdate,
					APIVersion: "v1beta1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}}}`)}})
			}
			live = write(seq, step, fm, "v1", cur, next, managers[r.IntN(len(managers))])
		}
	}

	dep := func() *appsv1.Deployment {
		replicas := int32(3)
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d1"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: fmPod(nil).Spec}}}
	}
	for seq := range 20 {
		r := rand.New(rand.NewPCG(uint64(seq), 11))
		live := depMain.UpdateNoErrors(&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}}, dep(), "kubectl-create")
		for step := range 20 {
			cur := live.(*appsv1.Deployment)
			next := cur.DeepCopy()
			fm := depMain
			if r.IntN(2) == 0 {
				fm = depStatus
				next.Status.ObservedGeneration, next.Status.Replicas = int64(step), int32(r.IntN(4))
				next.Spec = cur.Spec
			} else {
				next.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("app:%d", r.IntN(3))
				next.Status = cur.Status
			}
			live = write(seq, step, fm, "apps/v1", cur, next, managers[r.IntN(len(managers))])
		}
	}
	if pruned < 1000 {
		t.Fatalf("only %d updates went through the copies without equal parts", pruned)
	}
	t.Logf("%d updates went through the copies without equal parts", pruned)
}

func mustAccessor(t *testing.T, obj runtime.Object) metav1.Object {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// TestWithoutEqualParts: the copies leave out what the two objects hold
// equal, keep what the field manager reads and what differs, never go
// inside a value with a marshaler of its own, and are not made for
// unstructured objects or managers of another version.
func TestWithoutEqualParts(t *testing.T) {
	type inner struct {
		Port  intstr.IntOrString `json:"port"`
		Same  string             `json:"same,omitempty"`
		Other string             `json:"other,omitempty"`
	}
	type outer struct {
		In   inner             `json:"in"`
		Qty  resource.Quantity `json:"qty"`
		Zero inner             `json:"zero,omitzero"`
	}
	a := outer{In: inner{Port: intstr.FromString("http"), Same: "s", Other: "a"}, Qty: resource.MustParse("1"), Zero: inner{Same: "z", Other: "1"}}
	b := outer{In: inner{Port: intstr.FromString("https"), Same: "s", Other: "b"}, Qty: resource.MustParse("1"), Zero: inner{Same: "z", Other: "2"}}
	ac, bc := a, b
	if !zeroEqualParts(reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem(), reflect.ValueOf(&ac).Elem(), reflect.ValueOf(&bc).Elem(), 1, nil) {
		t.Fatal("nothing left out")
	}
	// The differing IntOrStrings keep their Type; equal strings and the
	// equal Quantity go; the omitzero struct is not entered.
	if ac.In.Port != a.In.Port || bc.In.Port != b.In.Port || ac.In.Same != "" || bc.In.Same != "" || ac.In.Other != "a" || bc.In.Other != "b" {
		t.Errorf("in: %+v / %+v", ac.In, bc.In)
	}
	if !ac.Qty.IsZero() || !bc.Qty.IsZero() || a.Qty.IsZero() {
		t.Errorf("qty: %v / %v (original %v)", ac.Qty, bc.Qty, a.Qty)
	}
	if ac.Zero != a.Zero || bc.Zero != b.Zero {
		t.Errorf("omitzero struct entered: %+v / %+v", ac.Zero, bc.Zero)
	}

	live := benchPods(1, time.Now()).Items[0]
	live.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	next := live.DeepCopy()
	next.Status.PodIP = "10.0.0.9"
	l, o, ok := withoutEqualParts(&live, next, "v1")
	if !ok {
		t.Fatal("a status update left nothing out")
	}
	lp, op := l.(*corev1.Pod), o.(*corev1.Pod)
	if lp.Spec.Containers != nil || op.Spec.Containers != nil || lp.Status.HostIP != "" || lp.Labels != nil || op.OwnerReferences != nil {
		t.Errorf("equal parts kept: %+v\n%+v", lp, op)
	}
	if lp.Status.PodIP != live.Status.PodIP || op.Status.PodIP != "10.0.0.9" || op.UID != live.UID || op.Name != live.Name ||
		op.Namespace != live.Namespace || len(lp.ManagedFields) != 2 || len(op.ManagedFields) != 2 {
		t.Errorf("kept parts lost: %+v\n%+v", lp, op)
	}
	if live.Spec.Containers == nil || next.Labels == nil || next.Status.HostIP == "" {
		t.Error("the originals changed")
	}
	if _, _, ok := withoutEqualParts(&live, live.DeepCopy(), "v2"); ok {
		t.Error("managers of another version: the copies were made")
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "a"}}}
	if _, _, ok := withoutEqualParts(u, u.DeepCopy(), "v1"); ok {
		t.Error("unstructured: the copies were made")
	}
}
