package printers

import (
	"time"

	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PriorityClassColumns are `kubectl get priorityclasses` columns. Upstream
// types GLOBAL-DEFAULT as a boolean column, so its cell is a bool (kubectl
// prints true/false), and puts PREEMPTIONPOLICY after AGE.
var PriorityClassColumns = []metav1.TableColumnDefinition{
	nameColumn(),
	column("Value", "integer", schedulingv1.PriorityClass{}.SwaggerDoc()["value"]),
	column("Global-Default", "boolean", schedulingv1.PriorityClass{}.SwaggerDoc()["globalDefault"]),
	ageColumn(),
	column("PreemptionPolicy", "string", schedulingv1.PriorityClass{}.SwaggerDoc()["preemptionPolicy"]),
}

// PriorityClassRow gives the PriorityClassColumns cells of a
// *schedulingv1.PriorityClass; a class without a preemption policy (never
// stored: defaulting sets one) prints "<unset>".
func PriorityClassRow(obj runtime.Object, now time.Time) []interface{} {
	pc, ok := obj.(*schedulingv1.PriorityClass)
	if !ok {
		return mismatchRow(obj, PriorityClassColumns)
	}
	policy := unset
	if pc.PreemptionPolicy != nil {
		policy = string(*pc.PreemptionPolicy)
	}
	return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, age(pc.CreationTimestamp, now), policy}
}
