// Package storage owns skiff's persistence of API objects in etcd.
//
// It stores one resource per Store under a key prefix
// (/registry/<group-resource>/...), maps etcd revisions to resourceVersions
// (an object's resourceVersion is its etcd mod revision; a list's is the
// revision it was read at), and turns etcd watches into apimachinery watch
// events. It knows nothing of HTTP, defaulting or validation: the apiserver
// owns those and is the only caller. Errors are the sentinels below, wrapped
// with %w; only the apiserver turns them into metav1.Status.
package storage

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrNotFound: the key does not exist (or not at the requested revision).
	ErrNotFound = errors.New("storage: key not found")
	// ErrAlreadyExists: Create found the key present.
	ErrAlreadyExists = errors.New("storage: key already exists")
	// ErrConflict: a resourceVersion or UID precondition did not hold.
	ErrConflict = errors.New("storage: precondition failed")
	// ErrExpired: the requested revision has been compacted away (HTTP 410).
	ErrExpired = errors.New("storage: resource version compacted")
	// ErrTooLargeResourceVersion: a read asked for a revision newer than
	// etcd has; the apiserver answers 504 with a retry hint as upstream does.
	ErrTooLargeResourceVersion = errors.New("storage: resource version too large")
	// ErrInvalidContinue: a continue token that is not one of ours.
	ErrInvalidContinue = errors.New("storage: invalid continue token")
	// ErrInvalidObject: an object could not be encoded or decoded.
	ErrInvalidObject = errors.New("storage: invalid object")
	// ErrInvalidResourceVersion: a resourceVersion that is not a decimal
	// revision (the apiserver answers 400 Bad Request).
	ErrInvalidResourceVersion = errors.New("storage: invalid resource version")
)

// Preconditions must hold on the stored object for an update or delete.
type Preconditions struct {
	UID             *types.UID
	ResourceVersion *string
}

// Predicate selects objects for list and watch. A nil Predicate matches all.
// It must not modify obj, and may be called from several goroutines at
// once (a watch's replay and the shared watch's dispatch).
type Predicate func(obj runtime.Object) (bool, error)

// GetOptions control Get.
type GetOptions struct {
	// ResourceVersion: "" reads the latest; "0" any; N at least N (not older).
	ResourceVersion string
}

// ListOptions control List.
type ListOptions struct {
	// ResourceVersion and ResourceVersionMatch follow Kubernetes semantics:
	// "" is a consistent read of the latest revision; "0" is any revision;
	// N with NotOlderThan (default) is at least N; N with Exact is exactly N
	// (ErrExpired if compacted).
	ResourceVersion      string
	ResourceVersionMatch string // "", "NotOlderThan" or "Exact"
	// Limit caps the number of returned items (0 = no limit). When more
	// matching items exist the list's continue token is set.
	Limit int64
	// Continue is a token returned by an earlier List; it pins the revision.
	Continue  string
	Predicate Predicate
	// Recursive lists everything under key as a prefix; false means key
	// names a single object (used for metadata.name field selectors).
	Recursive bool
	// IndexValue, for a store with a WatchIndex, promises that Predicate
	// matches only objects whose WatchIndex value is *IndexValue, so a
	// list from the watch cache reads only those (see StoreConfig).
	IndexValue *string
}

// WatchOptions control Watch.
type WatchOptions struct {
	// ResourceVersion: "" or "0" starts with synthetic ADDED events for the
	// current state (as of a consistent read) and continues from there; N
	// delivers every change after N, or an ERROR 410 event if N is compacted.
	ResourceVersion string
	// SendInitialEvents (WatchList) sends ADDED events for the current
	// state, then a BOOKMARK annotated "k8s.io/initial-events-end", then
	// changes. With a non-empty ResourceVersion the state is at least that.
	SendInitialEvents *bool
	// AllowBookmarks makes the watch send periodic BOOKMARK events carrying
	// the latest revision the watcher has seen.
	AllowBookmarks bool
	Predicate      Predicate
	Recursive      bool
	// IndexValue, for a store with a WatchIndex, promises that Predicate
	// matches only objects whose WatchIndex value is *IndexValue, so the
	// shared watch need not ask it about others, and the initial state
	// from the watch cache reads only those (see StoreConfig).
	IndexValue *string
}

// Interface is one resource's store. Every key passed in is a full etcd key
// (the Store's prefix included). Objects returned are owned by the caller.
type Interface interface {
	// Create stores obj at key if key is absent and decodes the stored result
	// (with resourceVersion set) into out. obj's resourceVersion must be empty.
	Create(ctx context.Context, key string, obj, out runtime.Object) error
	// Get decodes the object at key into out (ErrNotFound if absent). A
	// Get at "0" or N is served from the watch cache when it holds the key
	// (a deep copy: out is the caller's), else from etcd.
	Get(ctx context.Context, key string, opts GetOptions, out runtime.Object) error
	// List fills listObj (a *XList) with the objects under key. Lists a
	// store's watch cache serves (list_cache.go) fill the items with
	// shallow copies of the cache's objects: callers may set an item's
	// own fields but must not modify the maps and slices it shares.
	List(ctx context.Context, key string, opts ListOptions, listObj runtime.Object) error
	// GuaranteedUpdate reads key, checks preconditions, calls tryUpdate with
	// a copy of the current object, and writes the result if the revision is
	// unchanged, retrying tryUpdate on a concurrent write. If the key is
	// absent and ignoreNotFound is true, tryUpdate gets an empty object
	// (from the Store's NewFunc) and the result is created. tryUpdate may
	// return the input unchanged: then nothing is written. Errors returned
	// by tryUpdate are passed back unwrapped.
	GuaranteedUpdate(ctx context.Context, key string, out runtime.Object, ignoreNotFound bool,
		preconditions *Preconditions, tryUpdate UpdateFunc) error
	// Delete removes key if preconditions hold and validate (if non-nil)
	// accepts the current object; out receives the last stored state.
	Delete(ctx context.Context, key string, out runtime.Object, preconditions *Preconditions,
		validate func(current runtime.Object) error) error
	// Watch streams changes under key (or of key itself when not
	// Recursive) in revision order. A put is ADDED or MODIFIED; a delete is
	// DELETED carrying the last state with the deletion revision. Through a
	// Predicate, an object that starts to match is ADDED and one that stops
	// matching is DELETED (its last matching state, with the revision of
	// the change). A ResourceVersion etcd has not reached is waited for
	// briefly, then Watch fails with ErrTooLargeResourceVersion; a
	// compacted one yields one ERROR event (a 410 Expired metav1.Status)
	// and the channel closes. Stop, or the end of ctx, ends the watch and
	// closes the channel even if nobody reads it. The channel may also
	// close without an ERROR when the watcher falls behind for too long
	// (its channel stays full); the caller resumes from the last
	// resourceVersion it got. Event objects may be shared with other
	// watchers and must not be modified (unlike other returned objects).
	Watch(ctx context.Context, key string, opts WatchOptions) (watch.Interface, error)
	// CurrentRevision is etcd's current revision (a consistent read).
	CurrentRevision(ctx context.Context) (int64, error)
}

// UpdateFunc computes the new state from the current one. It receives a
// deep copy it may modify and return.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// InitialEventsEndAnnotation marks the bookmark that ends the initial events
// of a WatchList request.
const InitialEventsEndAnnotation = "k8s.io/initial-events-end"
