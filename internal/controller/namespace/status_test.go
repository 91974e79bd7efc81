package namespace

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDeletableResources(t *testing.T) {
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: []string{"list", "delete", "deletecollection"}},
			{Name: "pods/status", Namespaced: true, Verbs: []string{"get", "list", "delete"}},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
			{Name: "nodes", Namespaced: false, Verbs: []string{"list", "delete"}},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "deployments", Namespaced: true, Verbs: []string{"list", "delete"}},
		}},
	}
	got := deletableResources(lists)
	want := []target{
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, collection: true},
		{gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDeletionConditions(t *testing.T) {
	res := &deletionResult{
		discoveryErr: errors.New("metrics.k8s.io/v1beta1: unavailable"),
		remaining: map[schema.GroupResource]int{
			{Resource: "pods"}:                       2,
			{Group: "apps", Resource: "deployments"}: 1,
		},
		finalizers: map[string]int{"example.com/hold": 1},
	}
	byType := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	for _, c := range deletionConditions(res) {
		byType[c.Type] = c
	}
	checks := []struct {
		typ    corev1.NamespaceConditionType
		status corev1.ConditionStatus
		msg    string
	}{
		{corev1.NamespaceDeletionDiscoveryFailure, corev1.ConditionTrue, "Discovery failed for some groups: metrics.k8s.io/v1beta1: unavailable"},
		{corev1.NamespaceDeletionContentFailure, corev1.ConditionFalse, "All content successfully deleted, may be waiting on finalization"},
		{corev1.NamespaceContentRemaining, corev1.ConditionTrue, "Some resources are remaining: deployments.apps has 1 resource instances, pods has 2 resource instances"},
		{corev1.NamespaceFinalizersRemaining, corev1.ConditionTrue, "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"},
	}
	for _, c := range checks {
		got := byType[c.typ]
		if got.Status != c.status || got.Message != c.msg {
			t.Errorf("%s: got %s %q, want %s %q", c.typ, got.Status, got.Message, c.status, c.msg)
		}
	}
}

func TestMergeConditions(t *testing.T) {
	t0 := metav1.NewTime(time.Unix(100, 0))
	t1 := metav1.NewTime(time.Unix(200, 0))
	old := []corev1.NamespaceCondition{
		{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain", Message: "a", LastTransitionTime: t0},
		{Type: "Other", Status: corev1.ConditionTrue, LastTransitionTime: t0},
	}
	same := []corev1.NamespaceCondition{{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain", Message: "a"}}
	if _, changed := mergeConditions(old, same, t1); changed {
		t.Error("identical conditions reported as changed")
	}
	msg := []corev1.NamespaceCondition{{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain", Message: "b"}}
	got, changed := mergeConditions(old, msg, t1)
	if !changed || got[0].Message != "b" || !got[0].LastTransitionTime.Equal(&t0) || len(got) != 2 {
		t.Errorf("message change: got %+v", got)
	}
	if old[0].Message != "a" {
		t.Error("old modified")
	}
	flip := []corev1.NamespaceCondition{{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionFalse, Reason: "ContentRemoved"}}
	got, _ = mergeConditions(old, flip, t1)
	if !got[0].LastTransitionTime.Equal(&t1) {
		t.Errorf("status change kept transition time %v", got[0].LastTransitionTime)
	}
	got, _ = mergeConditions(nil, flip, t1)
	if len(got) != 1 || !got[0].LastTransitionTime.Equal(&t1) {
		t.Errorf("new condition: got %+v", got)
	}
}
