package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
)

// Streamed lists are byte for byte what encoding the whole list gives,
// in JSON and protobuf, and decode back to the same list.
func TestStreamedListsMatchOneShotEncoding(t *testing.T) {
	remaining := int64(7)
	pods := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "tok", RemainingItemCount: &remaining}}
	for i := range 300 {
		pods.Items = append(pods.Items, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "ns", Labels: map[string]string{"app": "x"},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
		})
	}
	cases := map[string]runtime.Object{
		"pods":         pods,
		"empty":        &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}, Items: []corev1.ConfigMap{}},
		"nodes":        &corev1.NodeList{Items: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n"}}}},
		"no metadata":  &corev1.ServiceList{Items: []corev1.Service{{ObjectMeta: metav1.ObjectMeta{Name: "s"}}}},
		"large remain": &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: pods.Items[:1]},
	}
	for name, list := range cases {
		t.Run(name, func(t *testing.T) {
			gvks, _, err := scheme.Scheme.ObjectKinds(list)
			if err != nil {
				t.Fatal(err)
			}
			list.GetObjectKind().SetGroupVersionKind(gvks[0])
			items, lm, ok := streamableList(list)
			if !ok {
				t.Fatal("not streamable")
			}
			for _, it := range items {
				k, _, _ := scheme.Scheme.ObjectKinds(it)
				it.GetObjectKind().SetGroupVersionKind(k[0])
			}

			want, err := json.Marshal(list)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeJSONList(&got, list, items, lm); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), append(want, '\n')) {
				t.Errorf("JSON differs:\n got %.300s\nwant %.300s", got.Bytes(), want)
			}

			var wantPB bytes.Buffer
			if err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Encode(list, &wantPB); err != nil {
				t.Fatal(err)
			}
			got.Reset()
			if err := writeProtobufList(&got, list, items, lm); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), wantPB.Bytes()) {
				t.Errorf("protobuf differs: got %d bytes, want %d\n got % x\nwant % x", got.Len(), wantPB.Len(), head(got.Bytes()), head(wantPB.Bytes()))
			}
			back, _, err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Decode(got.Bytes(), nil, nil)
			if err != nil {
				t.Fatalf("decoding the streamed protobuf: %v", err)
			}
			if n, m := len(items), len(mustExtract(t, back)); n != m {
				t.Errorf("streamed protobuf decodes to %d items, want %d", m, n)
			}
		})
	}
}

func mustExtract(t *testing.T, list runtime.Object) []runtime.Object {
	t.Helper()
	items, err := meta.ExtractList(list)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func head(b []byte) []byte { return b[:min(len(b), 48)] }

// Streamed Tables are byte for byte what encoding toTable's Table gives,
// for each includeObject, and for an empty list.
func TestStreamedTablesMatchOneShotEncoding(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := &Server{now: func() time.Time { return now }}
	pods := resources.Pods()
	ep := &endpoint{res: pods, gvk: pods.GVK()}
	remaining := int64(3)
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "tok", RemainingItemCount: &remaining}}
	for i := range 50 {
		list.Items = append(list.Items, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "ns", Labels: map[string]string{"app": "<x&y>"},
				CreationTimestamp: metav1.NewTime(now.Add(-time.Duration(i) * time.Minute)),
				ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "m", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}}},
			Spec:   corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, RestartCount: int32(i % 3)}}},
		})
	}
	for _, tc := range []struct {
		name, query string
		list        *corev1.PodList
	}{
		{"metadata", "", list},
		{"none", "?includeObject=None", list},
		{"object", "?includeObject=Object", list},
		{"empty", "", &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "7"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/pods"+tc.query, nil)
			table, err := s.toTable(r, ep, tc.list, "v1", true)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(table)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.newTableBuilder(r, ep)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeJSONTable(&got, b, tc.list, "v1"); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), append(want, '\n')) {
				t.Errorf("table differs:\n got %.400s\nwant %.400s", got.Bytes(), want)
			}
			var back metav1.Table
			if err := json.Unmarshal(got.Bytes(), &back); err != nil || len(back.Rows) != len(tc.list.Items) {
				t.Fatalf("decoding the streamed table: %v, %d rows", err, len(back.Rows))
			}
		})
	}
}
