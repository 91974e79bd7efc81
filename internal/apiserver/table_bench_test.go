package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
)

// benchPods are n pods as a kubelet leaves them running: labels, an
// owner, managedFields of a create and a status update.
func benchPods(n int, now time.Time) *corev1.PodList {
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "42"}}
	ts := metav1.NewTime(now.Add(-time.Hour))
	for i := range n {
		ip := fmt.Sprintf("10.42.%d.%d", (i/250)%256, i%250+2)
		list.Items = append(list.Items, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-5d8f7c9b4-%05d", i), Namespace: fmt.Sprintf("ns-%d", i%10),
				UID: types.UID(fmt.Sprintf("8c1d3f2e-0000-4000-8000-%012d", i)), ResourceVersion: fmt.Sprint(1000 + i),
				CreationTimestamp: ts, Labels: map[string]string{"app": "web", "pod-template-hash": "5d8f7c9b4"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f7c9b4",
					UID: "1111-2222", Controller: new(bool), BlockOwnerDeletion: new(bool)}},
				ManagedFields: []metav1.ManagedFieldsEntry{
					{Manager: "skiff", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &ts, FieldsType: "FieldsV1",
						FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"1111-2222\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{".":{},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}}}}}}`)}},
					{Manager: "skiff", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &ts, FieldsType: "FieldsV1", Subresource: "status",
						FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:conditions":{},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:podIPs":{},"f:startTime":{}}}`)}},
				}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%1000), Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi")}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "172.30.0.2", PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &ts,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ts}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, Image: "registry.k8s.io/pause:3.10",
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}}}}},
		})
	}
	return list
}

// BenchmarkJSONTablePods measures the server's side of `kubectl get
// pods`: a Table of pods with their metadata, in JSON, per pod.
func BenchmarkJSONTablePods(b *testing.B) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := &Server{now: func() time.Time { return now }}
	pods := resources.Pods()
	ep := &endpoint{res: pods, gvk: pods.GVK()}
	list := benchPods(10000, now)
	r := httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
	tb, err := s.newTableBuilder(r, ep)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := writeJSONTable(io.Discard, tb, list, "v1"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(list.Items)), "ns/pod")
}

// BenchmarkJSONListPods measures the server's side of a JSON list of
// pods (kubectl get --raw, controller-runtime's informers), per pod.
func BenchmarkJSONListPods(b *testing.B) {
	list := benchPods(10000, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	list.Kind, list.APIVersion = "PodList", "v1"
	items, err := meta.ExtractList(list)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := writeJSONList(io.Discard, list, items, list); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(items)), "ns/pod")
}
