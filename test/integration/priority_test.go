package integration

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestPriorityClassesAndPodPriority(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	pcs := cs.SchedulingV1().PriorityClasses()

	// The built-ins exist from the start, and stay.
	for name, value := range map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000} {
		pc, err := pcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil || pc.Value != value || pc.GlobalDefault || *pc.PreemptionPolicy != corev1.PreemptLowerPriority {
			t.Fatalf("built-in %s: %+v %v", name, pc, err)
		}
		err = pcs.Delete(ctx, name, metav1.DeleteOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "this is a system priority class and cannot be deleted") {
			t.Errorf("deleting %s: %v", name, err)
		}
		pc.Value++
		if _, err := pcs.Update(ctx, pc, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("changing %s's value: %v", name, err)
		}
	}

	never := corev1.PreemptNever
	for _, pc := range []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, Description: "user-facing"},
		{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Value: 10, PreemptionPolicy: &never},
	} {
		if _, err := pcs.Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", pc.Name, err)
		}
	}
	_, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 1}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "reserved for system use only") {
		t.Errorf("system- name: %v", err)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Value: 1000000001}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "maximum allowed value of a user defined priority is 1000000000") {
		t.Errorf("value above the user range: %v", err)
	}
	// value and preemptionPolicy are immutable, through patches too.
	_, err = pcs.Patch(ctx, "batch", types.MergePatchType, []byte(`{"preemptionPolicy":"PreemptLowerPriority"}`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("changing preemptionPolicy: %v", err)
	}

	pods := cs.CoreV1().Pods("default")
	create := func(name, class string, priority *int32) (*corev1.Pod, error) {
		p := testPod(name)
		p.Spec.PriorityClassName, p.Spec.Priority = class, priority
		return pods.Create(ctx, p, metav1.CreateOptions{})
	}
	check := func(p *corev1.Pod, err error, class string, priority int32, policy corev1.PreemptionPolicy) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.PriorityClassName != class || *p.Spec.Priority != priority || *p.Spec.PreemptionPolicy != policy {
			t.Errorf("pod %s: class %q priority %d policy %s", p.Name, p.Spec.PriorityClassName, *p.Spec.Priority, *p.Spec.PreemptionPolicy)
		}
	}
	p, err := create("plain", "", nil)
	check(p, err, "", 0, corev1.PreemptLowerPriority)
	p, err = create("important", "high", nil)
	check(p, err, "high", 1000, corev1.PreemptLowerPriority)
	p, err = create("patient", "batch", nil)
	check(p, err, "batch", 10, corev1.PreemptNever)
	p, err = create("critical", "system-cluster-critical", nil)
	check(p, err, "system-cluster-critical", 2000000000, corev1.PreemptLowerPriority)
	thousand := int32(1000)
	p, err = create("stated", "high", &thousand)
	check(p, err, "high", 1000, corev1.PreemptLowerPriority)

	_, err = create("x", "foo", nil)
	if !apierrors.IsForbidden(err) || err.Error() != `pods "x" is forbidden: no PriorityClass with name foo was found` {
		t.Errorf("unknown class: %v", err)
	}
	five := int32(5)
	_, err = create("y", "high", &five)
	want := `pods "y" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("mismatched priority: %v", err)
	}

	// One global default; pods without a class take it.
	if _, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Value: 100, GlobalDefault: true}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "another"}, Value: 5, GlobalDefault: true}, metav1.CreateOptions{})
	want = `priorityclasses.scheduling.k8s.io "another" is forbidden: PriorityClass standard is already marked as default. Only one default can exist`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("second default: %v", err)
	}
	_, err = pcs.Patch(ctx, "high", types.MergePatchType, []byte(`{"globalDefault":true}`), metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("patching a second default: %v", err)
	}
	p, err = create("defaulted", "", nil)
	check(p, err, "standard", 100, corev1.PreemptLowerPriority)

	// Priority fields survive an update that leaves them out.
	p.Spec.Priority, p.Spec.PreemptionPolicy = nil, nil
	p.Labels["more"] = "yes"
	p, err = pods.Update(ctx, p, metav1.UpdateOptions{})
	check(p, err, "standard", 100, corev1.PreemptLowerPriority)

	// kubectl get pc.
	code, body, _ := newRaw(t, s).do("GET", "/apis/scheduling.k8s.io/v1/priorityclasses", "", nil,
		"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	if code != 200 {
		t.Fatalf("table: %d %s", code, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	var columns []string
	for _, c := range table.ColumnDefinitions {
		columns = append(columns, strings.ToUpper(c.Name))
	}
	if got := strings.Join(columns, " "); got != "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY" {
		t.Errorf("columns %s", got)
	}
	rows := map[string][]interface{}{}
	for _, r := range table.Rows {
		rows[r.Cells[0].(string)] = r.Cells
	}
	if len(rows) != 5 {
		t.Errorf("rows %v", rows)
	}
	// JSON numbers decode as float64.
	if r := rows["batch"]; r[1] != float64(10) || r[2] != false || r[4] != "Never" {
		t.Errorf("batch row %v", r)
	}
	if r := rows["standard"]; r[1] != float64(100) || r[2] != true || r[4] != "PreemptLowerPriority" {
		t.Errorf("standard row %v", r)
	}
	if r := rows["system-node-critical"]; r[1] != float64(2000001000) {
		t.Errorf("system-node-critical row %v", r)
	}
}
