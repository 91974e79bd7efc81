package integration

import (
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// The metadata client (used by the garbage collector and namespace
// controller) lists, gets and watches PartialObjectMetadata.
func TestMetadataClient(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	mc, err := metadata.NewForConfig(s.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	pods := mc.Resource(corev1.SchemeGroupVersion.WithResource("pods")).Namespace("default")
	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod("meta"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		pm, ok := ev.Object.(*metav1.PartialObjectMetadata)
		if ev.Type != watch.Added || !ok || pm.Name != "meta" || pm.Labels["app"] != "web" {
			t.Fatalf("metadata watch event %s %#v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no metadata watch event")
	}
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "meta" {
		t.Fatalf("metadata list: %v %+v", err, list)
	}
	got, err := pods.Get(ctx, "meta", metav1.GetOptions{})
	if err != nil || got.UID == "" {
		t.Fatalf("metadata get: %v", err)
	}

	// The watch is protobuf when asked first, as the metadata client
	// does: not JSON, which is a fallback the client also accepts.
	cfg := s.RestConfig(t)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/vnd.kubernetes.protobuf;stream=watch" {
		t.Fatalf("metadata watch: %s, content type %q, want protobuf", resp.Status, ct)
	}
}
