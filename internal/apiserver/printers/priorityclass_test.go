package printers

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PriorityClass is not in the golden files: its GLOBAL-DEFAULT column is
// a boolean, which the shared column checks do not admit.
func TestPriorityClassRow(t *testing.T) {
	never := corev1.PreemptNever
	created := metav1.NewTime(testNow.Add(-3 * time.Hour))
	cases := []struct {
		pc   *schedulingv1.PriorityClass
		want []interface{}
	}{
		{&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "batch", CreationTimestamp: created}, Value: -10, PreemptionPolicy: &never},
			[]interface{}{"batch", int64(-10), false, "3h", "Never"}},
		{&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "standard", CreationTimestamp: created}, Value: 100, GlobalDefault: true},
			[]interface{}{"standard", int64(100), true, "3h", "<unset>"}},
	}
	for _, tc := range cases {
		if got := PriorityClassRow(tc.pc, testNow); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: row %#v, want %#v", tc.pc.Name, got, tc.want)
		}
	}
	var names []string
	for _, c := range PriorityClassColumns {
		names = append(names, c.Name)
		if c.Description == "" || c.Priority != 0 {
			t.Errorf("column %+v", c)
		}
	}
	if want := []string{"Name", "Value", "Global-Default", "Age", "PreemptionPolicy"}; !reflect.DeepEqual(names, want) {
		t.Errorf("columns %v, want %v", names, want)
	}
	if got := PriorityClassRow(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, testNow); len(got) != 5 || got[0] != "x" {
		t.Errorf("row of a pod: %v", got)
	}
}
