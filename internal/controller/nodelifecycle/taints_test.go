package nodelifecycle

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNoScheduleTaintDiff(t *testing.T) {
	cond := func(typ corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s}
	}
	noSchedule := func(key string) corev1.Taint { return corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule} }
	user := corev1.Taint{Key: "example.com/dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name        string
		node        corev1.Node
		add, remove []string
	}{
		{name: "healthy", node: corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionFalse)}}}},
		{name: "not ready with pressure and cordoned", node: corev1.Node{
			Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{user}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				cond(corev1.NodeReady, corev1.ConditionFalse), cond(corev1.NodeDiskPressure, corev1.ConditionTrue),
				cond(corev1.NodePIDPressure, corev1.ConditionTrue), cond(corev1.NodeNetworkUnavailable, corev1.ConditionTrue)}}},
			add: []string{corev1.TaintNodeDiskPressure, corev1.TaintNodeNetworkUnavailable, corev1.TaintNodeNotReady,
				corev1.TaintNodePIDPressure, corev1.TaintNodeUnschedulable}},
		{name: "unreachable replaces not-ready, user taint stays", node: corev1.Node{
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{user, noSchedule(corev1.TaintNodeNotReady), notReadyNoExecute}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				cond(corev1.NodeReady, corev1.ConditionUnknown), cond(corev1.NodeMemoryPressure, corev1.ConditionUnknown)}}},
			add: []string{corev1.TaintNodeUnreachable}, remove: []string{corev1.TaintNodeNotReady}},
		{name: "uncordoned and recovered", node: corev1.Node{
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{noSchedule(corev1.TaintNodeUnschedulable), noSchedule(corev1.TaintNodeMemoryPressure)}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionFalse)}}},
			remove: []string{corev1.TaintNodeMemoryPressure, corev1.TaintNodeUnschedulable}},
	}
	// keys names NoSchedule taints by key, others by key:effect.
	keys := func(ts []corev1.Taint) []string {
		var out []string
		for _, t := range ts {
			if t.Effect != corev1.TaintEffectNoSchedule {
				out = append(out, t.Key+":"+string(t.Effect))
				continue
			}
			out = append(out, t.Key)
		}
		slices.Sort(out)
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, remove := noScheduleTaintDiff(&tt.node)
			if got := keys(add); !slices.Equal(got, tt.add) {
				t.Errorf("add %v, want %v", got, tt.add)
			}
			if got := keys(remove); !slices.Equal(got, tt.remove) {
				t.Errorf("remove %v, want %v", got, tt.remove)
			}
		})
	}
}

func TestApplyTaintsKeepsOthers(t *testing.T) {
	now := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	user := corev1.Taint{Key: "example.com/dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	userExec := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	got, changed := applyTaints([]corev1.Taint{user, notReadyNoExecute, userExec},
		[]corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}, now)
	if !changed {
		t.Fatal("no change reported")
	}
	if len(got) != 3 || got[0] != user || got[1] != userExec || got[2].Key != corev1.TaintNodeUnreachable ||
		got[2].Effect != corev1.TaintEffectNoExecute || got[2].TimeAdded == nil || !got[2].TimeAdded.Equal(&now) {
		t.Fatalf("taints %+v", got)
	}
	if _, changed := applyTaints(got, []corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}, now); changed {
		t.Error("applying again reported a change")
	}
}
