package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
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
