package apiserver

import (
	"bytes"
	"io"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	restclientwatch "k8s.io/client-go/rest/watch"
)

// decodeWatchStream reads frames the way client-go's watch does for a
// response of contentType.
func decodeWatchStream(t *testing.T, contentType string, stream []byte) []watch.Event {
	t.Helper()
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), contentType)
	if !ok || info.StreamSerializer == nil {
		t.Fatalf("no stream serializer for %s", contentType)
	}
	frames := info.StreamSerializer.Framer.NewFrameReader(io.NopCloser(bytes.NewReader(stream)))
	dec := restclientwatch.NewDecoder(streaming.NewDecoder(frames, info.StreamSerializer.Serializer), info.Serializer)
	var out []watch.Event
	for {
		typ, obj, err := dec.Decode()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("decoding frame %d: %v", len(out), err)
		}
		out = append(out, watch.Event{Type: typ, Object: obj})
	}
}

func TestWatchEncodersRoundTripThroughClientGo(t *testing.T) {
	podGVK := corev1.SchemeGroupVersion.WithKind("Pod")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	status := &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old"}
	for _, enc := range []watchEncoder{jsonWatchEncoder{}, protobufWatchEncoder{}} {
		t.Run(enc.ContentType(), func(t *testing.T) {
			var stream []byte
			for _, ev := range []struct {
				typ watch.EventType
				obj runtime.Object
				gvk schema.GroupVersionKind
			}{
				{watch.Added, pod, podGVK},
				{watch.Modified, pod, podGVK},
				{watch.Error, status, schema.GroupVersionKind{Version: "v1", Kind: "Status"}},
			} {
				frame, err := enc.Encode(ev.typ, ev.obj, ev.gvk)
				if err != nil {
					t.Fatal(err)
				}
				stream = append(stream, frame...)
			}
			if !pod.GetObjectKind().GroupVersionKind().Empty() || status.Kind != "" {
				t.Fatal("encoding modified the event's object")
			}
			mediaType := enc.ContentType()
			if i := bytes.IndexByte([]byte(mediaType), ';'); i >= 0 {
				mediaType = mediaType[:i]
			}
			got := decodeWatchStream(t, mediaType, stream)
			if len(got) != 3 || got[0].Type != watch.Added || got[1].Type != watch.Modified || got[2].Type != watch.Error {
				t.Fatalf("events %v", got)
			}
			p, ok := got[1].Object.(*corev1.Pod)
			if !ok || !apiequality.Semantic.DeepEqual(p.ObjectMeta, pod.ObjectMeta) || p.Spec.NodeName != "n1" {
				t.Fatalf("pod %#v", got[1].Object)
			}
			st, ok := got[2].Object.(*metav1.Status)
			if !ok || st.Code != 410 || st.Reason != metav1.StatusReasonExpired {
				t.Fatalf("status %#v", got[2].Object)
			}
		})
	}
}

func TestFrameMemoSharesFramesPerObject(t *testing.T) {
	m := newFrameMemo()
	enc := memoizedEncoder{watchEncoder: protobufWatchEncoder{}, memo: m}
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	a := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}}
	b := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", ResourceVersion: "1"}}
	fa1, _ := enc.Encode(watch.Added, a, gvk)
	fa2, _ := enc.Encode(watch.Added, a, gvk)
	if &fa1[0] != &fa2[0] {
		t.Error("the same event was encoded twice")
	}
	fm, _ := enc.Encode(watch.Modified, a, gvk)
	fb, _ := enc.Encode(watch.Added, b, gvk)
	if bytes.Equal(fm, fa1) || bytes.Equal(fb, fa1) {
		t.Error("different events share a frame")
	}
	// The memo stays bounded.
	for i := 0; i < 2*frameMemoSize; i++ {
		_, _ = enc.Encode(watch.Added, &corev1.Pod{}, gvk)
	}
	if len(m.frames) > frameMemoSize {
		t.Errorf("memo holds %d frames", len(m.frames))
	}
}
