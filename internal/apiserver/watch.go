package apiserver

import (
	"context"
	"errors"
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

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/storage"
)

// serveWatch streams watch events (metav1.WatchEvent frames in JSON or
// protobuf, see watchencode.go), flushed per event, until timeoutSeconds,
// the client going away, or the server stopping.
func (s *Server) serveWatch(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	o, err := s.parseListOptions(r, ep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if name != "" {
		o.fields = fields.AndSelectors(o.fields, fields.OneTermEqualSelector("metadata.name", name))
	}
	format, ok := negotiate(r, "Table", "PartialObjectMetadata")
	if !ok {
		s.writeError(w, r, errNotAcceptable(r))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, watchTimeout(o))
	defer cancel()
	wi, err := s.watch(ctx, ep, ns, o, o.allowBookmarks && format.As != "Table")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer wi.Stop()

	flusher, _ := w.(http.Flusher)
	enc := s.newWatchEncoder(format, ep)
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Cache-Control", "no-cache, private")
	guard := newWriteGuard(w, s.cfg.WatchWriteTimeout)
	defer guard.close()
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		if guard.write(w, nil, flusher) != nil {
			return
		}
	}
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			obj, gvk, err := s.watchObject(r, ep, format, ev, first)
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
			frame, err := enc.Encode(ev.Type, obj, gvk)
			if err != nil {
				s.log.Warn("watch: encoding event", "resource", ep.res.GroupResource().String(), "err", err)
				return
			}
			// Events already waiting go out in the same write: under load
			// a flush (a TLS record and a syscall) per event is much of
			// the cost of a watch.
			var flush http.Flusher
			if len(wi.ResultChan()) == 0 {
				flush = flusher
			}
			if err := guard.write(w, frame, flush); err != nil {
				if errors.Is(err, errWatchWriteTimeout) {
					s.log.Debug("watch: closing a client that does not read", "resource", ep.res.GroupResource().String(), "user", userOf(r))
				}
				return
			}
		}
	}
}

// watchTimeout is how long a watch runs: timeoutSeconds, or 30 to 60
// minutes, as upstream's --min-request-timeout spreads them.
func watchTimeout(o listOptions) time.Duration {
	if o.timeoutSeconds > 0 {
		return time.Duration(o.timeoutSeconds) * time.Second
	}
	return time.Duration(1800+rand.IntN(1800)) * time.Second
}

// watch starts the store's watch for a request's options (with bookmarks
// if the client allows them and its format carries them); it ends with
// ctx. Errors are API errors.
func (s *Server) watch(ctx context.Context, ep *endpoint, ns string, o listOptions, bookmarks bool) (watch.Interface, error) {
	if err := validateWatchList(o); err != nil {
		return nil, err
	}
	opts := storage.WatchOptions{
		ResourceVersion:   o.resourceVersion,
		SendInitialEvents: o.sendInitialEvents,
		AllowBookmarks:    bookmarks,
		Predicate:         ep.predicate(o),
		Recursive:         true,
		IndexValue:        ep.indexValue(o),
	}
	key := ep.listKey(ns)
	if n, ok := singleName(o); ok && (ns != "" || !ep.res.Namespaced) {
		key, opts.Recursive = ep.key(ns, n), false
	}
	wi, err := ep.store.Watch(ctx, key, opts)
	if err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), "")
	}
	return wi, nil
}

// watchObject gives the object to send for ev and its kind: the object
// itself, a Table row, or a Status for errors. nil means skip the event.
// ev.Object may be shared with other watchers and is never modified.
func (s *Server) watchObject(r *http.Request, ep *endpoint, format outputFormat, ev watch.Event, first bool) (runtime.Object, schema.GroupVersionKind, error) {
	statusGVK := schema.GroupVersionKind{Version: "v1", Kind: "Status"}
	switch ev.Type {
	case watch.Error:
		if st, ok := ev.Object.(*metav1.Status); ok {
			return st, statusGVK, nil
		}
		st := statusOf(apierrors.FromObject(ev.Object))
		return &st, statusGVK, nil
	case watch.Bookmark:
		if format.As == "Table" {
			return nil, schema.GroupVersionKind{}, nil
		}
		if format.As == "PartialObjectMetadata" {
			return kindOf(toPartialMetadata(ev.Object, false, format.Version))
		}
		return ev.Object, ep.gvk, nil
	}
	switch format.As {
	case "Table":
		return kindOf(s.toTable(r, ep, ev.Object, format.Version, first))
	case "PartialObjectMetadata":
		return kindOf(toPartialMetadata(ev.Object, false, format.Version))
	}
	return ev.Object, ep.gvk, nil
}

// kindOf passes on a converted object with the kind it carries.
func kindOf[T runtime.Object](obj T, err error) (runtime.Object, schema.GroupVersionKind, error) {
	if err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	return obj, obj.GetObjectKind().GroupVersionKind(), nil
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

// userOf names the request's user for logs.
func userOf(r *http.Request) string {
	if u, ok := auth.UserFrom(r.Context()); ok && u != nil {
		return u.Name
	}
	return ""
}
