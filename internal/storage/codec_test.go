package storage

import (
	"bytes"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

func podStore() *store {
	return &store{
		codec:   NewCodec(scheme.Scheme, corev1.SchemeGroupVersion),
		newFunc: func() runtime.Object { return &corev1.Pod{} },
	}
}

func TestCodecRoundTrip(t *testing.T) {
	s := podStore()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "7",
		Labels: map[string]string{"b": "2", "a": "1"}}}
	data, err := s.encode(pod)
	if err != nil {
		t.Fatal(err)
	}
	if pod.ResourceVersion != "7" || pod.Kind != "" {
		t.Fatalf("encode changed its input: rv %q kind %q", pod.ResourceVersion, pod.Kind)
	}
	// protobuf envelope magic, and the kind inside it
	if !bytes.HasPrefix(data, []byte("k8s\x00")) || !bytes.Contains(data, []byte("Pod")) {
		t.Fatalf("stored value is not a protobuf Pod: %q", data)
	}
	raw, _, err := s.codec.Decode(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rv := raw.(*corev1.Pod).ResourceVersion; rv != "" {
		t.Fatalf("stored value carries resourceVersion %q", rv)
	}
	again, _ := s.encode(pod)
	if !bytes.Equal(data, again) {
		t.Fatalf("encoding is not deterministic")
	}

	out := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "stale"}}
	if err := s.decode(data, 42, out); err != nil {
		t.Fatal(err)
	}
	if out.Name != "a" || out.Labels["b"] != "2" || out.ResourceVersion != "42" || out.Spec.NodeName != "" {
		t.Fatalf("decoded %+v", out)
	}
}

func TestCodecDecodesJSON(t *testing.T) {
	s := podStore()
	data, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "j", "namespace": "ns"},
	})
	out := &corev1.Pod{}
	if err := s.decode(data, 3, out); err != nil {
		t.Fatal(err)
	}
	if out.Name != "j" || out.ResourceVersion != "3" {
		t.Fatalf("decoded %+v", out.ObjectMeta)
	}
	if err := s.decode([]byte("garbage"), 3, out); err == nil {
		t.Fatalf("decoded garbage")
	}
}

func TestContinueToken(t *testing.T) {
	token, err := encodeContinue("/registry/pods/ns/b\x00", "/registry/pods/", 12)
	if err != nil {
		t.Fatal(err)
	}
	rev, key, err := decodeContinue(token, "/registry/pods/")
	if err != nil || rev != 12 || key != "/registry/pods/ns/b\x00" {
		t.Fatalf("decoded %d %q %v", rev, key, err)
	}
	if _, err := encodeContinue("/other/x", "/registry/pods/", 12); err == nil {
		t.Fatalf("encoded a key outside the prefix")
	}
	for _, bad := range []string{"", "!!", "e30", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MCwic3RhcnQiOiJ4In0"} {
		if _, _, err := decodeContinue(bad, "/p/"); err == nil {
			t.Errorf("accepted token %q", bad)
		}
	}
}

func TestPlanList(t *testing.T) {
	for _, tc := range []struct {
		opts ListOptions
		want listRead
	}{
		{ListOptions{Recursive: true}, listRead{start: "/p/", end: "/p0", prefix: "/p/"}},
		{ListOptions{Recursive: true, ResourceVersion: "0"}, listRead{start: "/p/", end: "/p0", prefix: "/p/", serializable: true}},
		{ListOptions{Recursive: true, ResourceVersion: "5"}, listRead{start: "/p/", end: "/p0", prefix: "/p/", minRev: 5}},
		{ListOptions{Recursive: true, ResourceVersion: "5", ResourceVersionMatch: "Exact"}, listRead{start: "/p/", end: "/p0", prefix: "/p/", rev: 5}},
		{ListOptions{}, listRead{start: "/p", end: "/p\x00", prefix: "/p"}},
	} {
		got, err := planList("/p", tc.opts)
		if err != nil || got != tc.want {
			t.Errorf("planList(%+v) = %+v, %v; want %+v", tc.opts, got, err, tc.want)
		}
	}
	if _, err := planList("/p", ListOptions{ResourceVersion: "-1"}); err == nil {
		t.Errorf("accepted resourceVersion -1")
	}
	if _, err := planList("/p", ListOptions{ResourceVersion: "1", ResourceVersionMatch: "Newer"}); err == nil {
		t.Errorf("accepted resourceVersionMatch Newer")
	}
}

func TestReuseWindow(t *testing.T) {
	for ttl, want := range map[int64]int64{1: 0, 9: 0, 10: 1, 300: 30, 3600: 60} {
		if got := int64(reuseWindow(ttl).Seconds()); got != want {
			t.Errorf("reuseWindow(%d) = %ds, want %ds", ttl, got, want)
		}
	}
}
