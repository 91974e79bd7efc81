package apiserver

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
)

// FuzzDecodeBody feeds arbitrary bytes to the request decode path (JSON,
// YAML and protobuf bodies, strict and lenient) and to the patch appliers.
// Whatever the input, decoding returns an object or an error, never a
// panic.
func FuzzDecodeBody(f *testing.F) {
	s := &Server{scheme: newScheme()}
	s.codecs = newCodecs(s.scheme)
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	pb, err := runtimeEncode(s, pod)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"b"}]}}`), uint8(0))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"), uint8(1))
	f.Add(pb, uint8(2))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"}}`), uint8(3))
	f.Add([]byte(`[{"op":"replace","path":"/spec/containers/0/image","value":"x"}]`), uint8(4))
	f.Add([]byte(`{"spec":{"containers":[{"name":"c","$patch":"delete"}]}}`), uint8(5))
	f.Add([]byte("k8s\x00\x0a\x02\x0a\x00"), uint8(2))
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	ep := &endpoint{gvk: gvk}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				panic(fmt.Sprintf("slow input mode=%d: %q", mode, data))
			}
		}()
		validation := []string{metav1.FieldValidationStrict, metav1.FieldValidationWarn, metav1.FieldValidationIgnore}[int(mode)%3]
		switch mode % 6 {
		case 0, 3:
			_, _, _ = s.decodeInto(data, mediaJSON, gvk, &corev1.Pod{}, validation)
		case 1:
			_, _, _ = s.decodeInto(data, mediaYAML, gvk, &corev1.Pod{}, validation)
		case 2:
			_, _, _ = s.decodeInto(data, mediaProtobuf, gvk, &corev1.Pod{}, validation)
		case 4:
			_, _, _ = s.applyPatch(ep, types.JSONPatchType, pod.DeepCopy(), data, validation, gvk, newPod)
			_, _, _ = s.applyPatch(ep, types.MergePatchType, pod.DeepCopy(), data, validation, gvk, newPod)
		case 5:
			_, _, _ = s.applyPatch(ep, types.StrategicMergePatchType, pod.DeepCopy(), data, validation, gvk, newPod)
		}
	})
}

func newPod() runtime.Object { return &corev1.Pod{} }

func runtimeEncode(s *Server, pod *corev1.Pod) ([]byte, error) {
	var buf bytesBuffer
	err := protobuf.NewSerializer(s.scheme, s.scheme).Encode(pod, &buf)
	return buf, err
}

type bytesBuffer []byte

func (b *bytesBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
