package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Workaround: skiff's apiserver answers a watch asking for
// `as=PartialObjectMetadata` with full objects, which client-go's metadata
// client cannot decode ("no kind Pod is registered"), so
// metadatainformer's watches never deliver an event. The collector lists
// through the metadata client (that works) and watches through a raw
// JSON stream whose objects it reads as metadata only. Once the apiserver
// converts watch events, newInformer can go back to
// metadatainformer.NewSharedInformerFactory(...).ForResource(gvr).

// newInformer is a metadata-only informer for gvr across all namespaces.
func newInformer(md metadata.Interface, raw rest.Interface, gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return md.Resource(gvr).List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return watchMetadata(ctx, raw, gvr, opts)
		},
	}
	return cache.NewSharedIndexInformer(lw, &metav1.PartialObjectMetadata{}, 0, cache.Indexers{})
}

func resourcePath(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return "/api/" + gvr.Version + "/" + gvr.Resource
	}
	return "/apis/" + gvr.Group + "/" + gvr.Version + "/" + gvr.Resource
}

func watchMetadata(ctx context.Context, raw rest.Interface, gvr schema.GroupVersionResource, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	body, err := raw.Get().AbsPath(resourcePath(gvr)).
		SpecificallyVersionedParams(&opts, scheme.ParameterCodec, schema.GroupVersion{Version: "v1"}).
		SetHeader("Accept", "application/json").
		Stream(ctx)
	if err != nil {
		return nil, err
	}
	return watch.NewStreamWatcher(&metaDecoder{body: body, dec: json.NewDecoder(body)}, errorReporter{}), nil
}

// metaDecoder reads a JSON watch stream, keeping each object's metadata.
type metaDecoder struct {
	body io.ReadCloser
	dec  *json.Decoder
}

func (d *metaDecoder) Decode() (watch.EventType, runtime.Object, error) {
	var ev struct {
		Type   watch.EventType `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if err := d.dec.Decode(&ev); err != nil {
		return "", nil, err
	}
	if ev.Type == watch.Error {
		st := &metav1.Status{}
		if err := json.Unmarshal(ev.Object, st); err != nil {
			return "", nil, fmt.Errorf("watch error event: %w", err)
		}
		return ev.Type, st, nil
	}
	m := &metav1.PartialObjectMetadata{}
	if err := json.Unmarshal(ev.Object, m); err != nil {
		return "", nil, fmt.Errorf("watch event: %w", err)
	}
	m.APIVersion, m.Kind = "meta.k8s.io/v1", "PartialObjectMetadata"
	return ev.Type, m, nil
}

// errorReporter turns a broken stream into an error event the reflector
// answers by watching again.
type errorReporter struct{}

func (errorReporter) AsObject(err error) runtime.Object {
	return &metav1.Status{Status: metav1.StatusFailure, Message: err.Error(), Reason: metav1.StatusReasonUnknown}
}

func (d *metaDecoder) Close() { _ = d.body.Close() }
