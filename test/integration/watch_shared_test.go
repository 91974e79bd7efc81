package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestWatchSharedObjectsUnmodified: the API server's watchers of a
// resource share the objects storage decodes once per event. Watchers
// with different output options (protobuf, selectors, Table with and
// without the object, PartialObjectMetadata) consume the same events;
// then a JSON watcher replays them from the shared buffer and must see
// exactly what the writes stored. A consumer that modified an event's
// object (its kind, managedFields, resourceVersion, anything) fails this,
// and under -race also by the race detector.
func TestWatchSharedObjectsUnmodified(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	cms := cs.CoreV1().ConfigMaps("default")
	seed, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "seed"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := seed.ResourceVersion
	raw := newRaw(t, s)

	// The consumers: all start at the same revision and so get the same
	// shared objects, live or from the buffer.
	const path = "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=4&resourceVersion="
	tableAccept := "application/json;as=Table;v=v1;g=meta.k8s.io"
	var wg sync.WaitGroup
	streams := map[string]string{
		"table-object":   path + from + "&includeObject=Object",
		"table-metadata": path + from,
		"partial":        path + from,
		"selected":       path + from + "&labelSelector=app%3Dweb",
	}
	accepts := map[string]string{
		"table-object":   tableAccept,
		"table-metadata": tableAccept,
		"partial":        "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
		"selected":       "application/json;as=Table;v=v1;g=meta.k8s.io",
	}
	errs := make(chan error, len(streams)+2)
	for name, p := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := readWatch(raw, p, accepts[name]); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	for _, sel := range []string{"", "app=web"} {
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: from, LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Stop()
			timeout := time.After(4 * time.Second)
			for {
				select {
				case <-w.ResultChan():
				case <-timeout:
					return
				}
			}
		}()
	}

	// The writes, and what each stored.
	var want []*corev1.ConfigMap
	a, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"app": "web"}},
		Data: map[string]string{"k": "1"}}, metav1.CreateOptions{FieldManager: "first"})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, a.DeepCopy())
	a.Data["k"] = "2"
	if a, err = cms.Update(ctx, a, metav1.UpdateOptions{FieldManager: "second"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, a.DeepCopy())
	a.Labels["app"] = "db" // leaves the selector: DELETED for "selected"
	if a, err = cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want = append(want, a.DeepCopy())
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	events, err := readWatch(raw, "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=2&resourceVersion="+from, "application/json")
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []watch.EventType{watch.Added, watch.Modified, watch.Modified, watch.Deleted}
	if len(events) != len(wantTypes) {
		t.Fatalf("replay has %d events, want %d", len(events), len(wantTypes))
	}
	for i, ev := range events {
		var got corev1.ConfigMap
		if err := json.Unmarshal(ev.Object.Raw, &got); err != nil {
			t.Fatal(err)
		}
		if watch.EventType(ev.Type) != wantTypes[i] || got.APIVersion != "v1" || got.Kind != "ConfigMap" {
			t.Fatalf("replayed event %d: %s %s %s, want %s v1 ConfigMap", i, ev.Type, got.APIVersion, got.Kind, wantTypes[i])
		}
		exp := want[min(i, len(want)-1)]
		got.TypeMeta = metav1.TypeMeta{}
		if wantTypes[i] == watch.Deleted {
			got.ResourceVersion = exp.ResourceVersion // DELETED carries the deletion's
		}
		if !reflect.DeepEqual(&got, exp) {
			gotJSON, _ := json.Marshal(&got)
			wantJSON, _ := json.Marshal(exp)
			t.Fatalf("replayed event %d (%s) changed after other watchers used it:\n got %s\nwant %s", i, ev.Type, gotJSON, wantJSON)
		}
	}
}

// readWatch reads a raw watch until the server ends it and returns its
// events; it may run in its own goroutine.
func readWatch(c *rawClient, path, accept string) ([]metav1.WatchEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var events []metav1.WatchEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var ev metav1.WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("decoding %q: %w", sc.Bytes(), err)
		}
		if ev.Type == string(watch.Error) {
			return nil, fmt.Errorf("ERROR event: %s", ev.Object.Raw)
		}
		if ev.Type != string(watch.Bookmark) {
			events = append(events, ev)
		}
	}
	return events, sc.Err()
}
