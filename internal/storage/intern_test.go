package storage

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// templatePod is a pod as a ReplicaSet's would be: the template's labels,
// owner, requests and the controller's managedFields entry, with its own
// name, IP and the kubelet's entry naming that IP.
func templatePod(i int, cpu string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: fmt.Sprintf("web-%d", i), GenerateName: "web-",
			UID:             types.UID(fmt.Sprint("uid-", i)),
			Labels:          map[string]string{"app": "web", "pod-template-hash": "abc"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-uid", Controller: &yes}},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kube-controller-manager", Operation: "Update", APIVersion: "v1", FieldsType: "FieldsV1",
					FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:app":{}}}}`)}},
				{Manager: "kubelet", Operation: "Update", APIVersion: "v1", FieldsType: "FieldsV1", Subresource: "status",
					FieldsV1: &metav1.FieldsV1{Raw: fmt.Appendf(nil, `{"f:status":{"f:podIPs":{"k:{\"ip\":\"10.0.0.%d\"}":{}}}}`, i)}},
			},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-1",
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("64Mi")},
			}}},
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute"}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.0.%d", i),
			Conditions: []corev1.PodCondition{{Type: "Ready", Status: "True"}, {Type: "PodScheduled", Status: "True"},
				{Type: "Initialized", Status: "True"}},
		},
	}
}

// decodeStored is pod as the watch cache decodes it from etcd.
func decodeStored(t *testing.T, s *store, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	data, err := s.encode(pod)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.decodeNew(data, 7)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*corev1.Pod)
}

func same[T any](a, b T) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestInternerShares checks that compacting decoded pods makes equal
// pieces one, leaves different ones apart, and changes no pod: each
// still equals and encodes as its own decoded copy.
func TestInternerShares(t *testing.T) {
	s := &store{codec: NewCodec(scheme.Scheme, corev1.SchemeGroupVersion), newFunc: func() runtime.Object { return &corev1.Pod{} }}
	in := newInterner()
	var pods, plain []*corev1.Pod
	for i, cpu := range []string{"100m", "100m", "250m"} {
		p := decodeStored(t, s, templatePod(i, cpu))
		plain = append(plain, decodeStored(t, s, templatePod(i, cpu)))
		in.compact(p)
		pods = append(pods, p)
	}
	a, b, c := pods[0], pods[1], pods[2]
	if !same(a.Labels, b.Labels) || !same(a.Labels, c.Labels) {
		t.Error("equal labels not shared")
	}
	if !same(a.OwnerReferences, b.OwnerReferences) {
		t.Error("equal owner references not shared")
	}
	if !same(a.ManagedFields[0].FieldsV1.Raw, b.ManagedFields[0].FieldsV1.Raw) {
		t.Error("equal managedFields entries not shared")
	}
	if same(a.ManagedFields[1].FieldsV1.Raw, b.ManagedFields[1].FieldsV1.Raw) {
		t.Error("different managedFields entries shared")
	}
	if !same(a.Spec.Containers[0].Resources.Requests, b.Spec.Containers[0].Resources.Requests) {
		t.Error("equal requests not shared")
	}
	if same(a.Spec.Containers[0].Resources.Requests, c.Spec.Containers[0].Resources.Requests) {
		t.Error("different requests (100m, 250m cpu) shared")
	}
	if !same(a.Spec.Tolerations, c.Spec.Tolerations) {
		t.Error("equal tolerations not shared")
	}
	if cap(a.Status.Conditions) != len(a.Status.Conditions) {
		t.Errorf("conditions keep %d spare slots", cap(a.Status.Conditions)-len(a.Status.Conditions))
	}
	for i, p := range pods {
		if !equality.Semantic.DeepEqual(p, plain[i]) {
			t.Errorf("pod %d changed by compacting", i)
		}
		got, err := s.encode(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.encode(plain[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("pod %d encodes differently after compacting", i)
		}
	}
}

// TestInternerBounded checks that the tables are emptied when full rather
// than growing with every distinct value.
func TestInternerBounded(t *testing.T) {
	in := newInterner()
	for i := range tableLimit + 10 {
		in.str(fmt.Sprint("s", i))
		in.strMap(map[string]string{"k": fmt.Sprint(i)})
	}
	if len(in.strs) > tableLimit || len(in.strMaps) > tableLimit {
		t.Fatalf("tables hold %d strings and %d maps, limit %d", len(in.strs), len(in.strMaps), tableLimit)
	}
	// A nil interner (a direct watch's) leaves objects alone.
	var none *interner
	p := templatePod(0, "1")
	none.compact(p)
}
