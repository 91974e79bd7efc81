package apiserver

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// serveWatch streams watch events as newline-delimited JSON
// (metav1.WatchEvent), flushed per event, until timeoutSeconds, the client
// going away, or the server stopping.
func (s *Server) serveWatch(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	o, err := s.parseListOptions(r, ep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if name != "" {
		o.fields = fields.AndSelectors(o.fields, fields.OneTermEqualSelector("metadata.name", name))
	}
	if err := validateWatchList(o); err != nil {
		s.writeError(w, r, err)
		return
	}
	format, ok := negotiate(r, "Table", "PartialObjectMetadata")
	if !ok {
		s.writeError(w, r, errNotAcceptable(r))
		return
	}
	timeout := time.Duration(o.timeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = time.Duration(1800+rand.IntN(1800)) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	opts := storage.WatchOptions{
		ResourceVersion:   o.resourceVersion,
		SendInitialEvents: o.sendInitialEvents,
		AllowBookmarks:    o.allowBookmarks && format.As != "Table",
		Predicate:         ep.predicate(o),
		Recursive:         true,
	}
	key := ep.listKey(ns)
	if n, ok := singleName(o); ok && (ns != "" || !ep.res.Namespaced) {
		key, opts.Recursive = ep.key(ns, n), false
	}
	wi, err := ep.store.Watch(ctx, key, opts)
	if err != nil {
		s.writeError(w, r, toAPIError(err, ep.res.GroupResource(), ""))
		return
	}
	defer wi.Stop()

	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			obj, err := s.watchObject(r, ep, format, ev, first)
			if err != nil {
				s.log.Warn("watch: converting event", "resource", ep.res.GroupResource().String(), "err", err)
				return
			}
			if obj == nil {
				continue
			}
			if ev.Type != watch.Bookmark && ev.Type != watch.Error {
				first = false
			}
			raw, err := json.Marshal(obj)
			if err != nil {
				return
			}
			if err := enc.Encode(&metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: raw}}); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// watchObject gives the object to send for ev: the object with its kind,
// a Table row, or a Status for errors. nil means skip the event.
func (s *Server) watchObject(r *http.Request, ep *endpoint, format outputFormat, ev watch.Event, first bool) (runtime.Object, error) {
	switch ev.Type {
	case watch.Error:
		if st, ok := ev.Object.(*metav1.Status); ok {
			st.Kind, st.APIVersion = "Status", "v1"
			return st, nil
		}
		st := statusOf(apierrors.FromObject(ev.Object))
		return &st, nil
	case watch.Bookmark:
		if format.As == "Table" {
			return nil, nil
		}
		if format.As == "PartialObjectMetadata" {
			return toPartialMetadata(ev.Object, false, format.Version)
		}
		ep.setKind(ev.Object)
		return ev.Object, nil
	}
	switch format.As {
	case "Table":
		return s.toTable(r, ep, ev.Object, format.Version, first)
	case "PartialObjectMetadata":
		return toPartialMetadata(ev.Object, false, format.Version)
	}
	ep.setKind(ev.Object)
	return ev.Object, nil
}

// validateWatchList applies upstream's rules for sendInitialEvents.
func validateWatchList(o listOptions) error {
	gk := schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}
	if o.sendInitialEvents != nil {
		var errs field.ErrorList
		if o.rvMatch != string(metav1.ResourceVersionMatchNotOlderThan) {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"),
				"sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		}
		if *o.sendInitialEvents && !o.allowBookmarks {
			errs = append(errs, field.Forbidden(field.NewPath("allowWatchBookmarks"),
				"sendInitialEvents requires setting allowWatchBookmarks to true"))
		}
		if len(errs) > 0 {
			return apierrors.NewInvalid(gk, "", errs)
		}
	} else if o.rvMatch != "" {
		return apierrors.NewInvalid(gk, "", field.ErrorList{field.Forbidden(field.NewPath("resourceVersionMatch"),
			"resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")})
	}
	return nil
}
