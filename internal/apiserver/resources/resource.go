// Package resources describes every API resource skiff serves: one file per
// resource holds its defaulting, validation, status/spec split, table
// columns and field selectors, as a *Resource. all.go lists them; adding a
// resource is one file plus one line there.
//
// The package is pure: hooks see objects, never storage or HTTP. The
// apiserver package drives them for every verb.
package resources

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource describes one REST resource. Nil hooks do nothing.
//
// Order of hooks on create: decode → Default → PrepareForCreate → Validate →
// BeforeCreate → store (defaults come first, as upstream defaults while
// decoding, so PrepareForCreate sees them). On update (PUT and PATCH of the
// main resource): decode/patch → Default → PrepareForUpdate → ValidateUpdate
// → BeforeUpdate → store. On status update the same with the Status variants. Objects given
// to hooks are the caller's own copies; hooks may modify obj, never old.
type Resource struct {
	GroupVersion schema.GroupVersion
	Resource     string // plural, e.g. "pods"
	Singular     string // e.g. "pod"
	Kind         string // e.g. "Pod"
	Namespaced   bool
	ShortNames   []string
	Categories   []string

	New     func() runtime.Object // empty *Kind
	NewList func() runtime.Object // empty *KindList

	// HasStatus serves the /status subresource and splits spec from status:
	// writes to the main resource keep the stored status, writes to /status
	// keep everything but status (and metadata labels/annotations are kept
	// from the main resource as upstream does).
	HasStatus bool
	// Scale, when set, serves /scale as autoscaling/v1 Scale.
	Scale *ScaleAccessor
	// Subresources lists further subresources for discovery (binding,
	// eviction, log, exec, ...); the apiserver implements them by name.
	Subresources []Subresource

	// PrepareForCreate clears fields users may not set on create (e.g.
	// status) and sets server-owned initial state (e.g. phase Pending).
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate carries server-owned state over from old. (Status
	// of HasStatus resources and generation are kept by the apiserver.)
	PrepareForUpdate func(obj, old runtime.Object)
	// Default fills in defaults, as upstream's defaulters do.
	Default func(obj runtime.Object)
	// Validate checks a new object; errors become 422 Invalid with causes.
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update, including immutable fields.
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// ValidateStatusUpdate checks an update through /status.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// GenerationChanged reports whether an update changes the desired state
	// and so bumps metadata.generation. Nil: generation is not tracked.
	GenerationChanged func(obj, old runtime.Object) bool

	// BeforeCreate/BeforeUpdate run side effects (allocating a ClusterIP);
	// the returned undo is called if the write then fails. AfterDelete
	// releases them once the object is gone. dryRun means allocate nothing.
	BeforeCreate func(ctx context.Context, obj runtime.Object, dryRun bool) (undo func(), err error)
	BeforeUpdate func(ctx context.Context, obj, old runtime.Object, dryRun bool) (undo func(), err error)
	AfterDelete  func(ctx context.Context, obj runtime.Object)

	// GracefulDeletion decides how long a delete waits. It returns the grace
	// period to record (deletionGracePeriodSeconds) and whether the object
	// lingers; requested is the client's gracePeriodSeconds (nil if unset).
	// Nil: delete at once (unless finalizers hold the object).
	GracefulDeletion func(obj runtime.Object, requested *int64) (grace int64, graceful bool)
	// BeforeDelete may refuse a delete (e.g. a namespace that is terminating
	// is only finalized, never removed early). It returns true when the
	// object must not be removed yet but has been updated in place instead
	// (the caller stores obj).
	BeforeDelete func(obj runtime.Object) (keep bool, err error)

	// Storage, when set, stores this resource as another version's objects
	// (events.k8s.io/v1 Events are stored as core/v1 Events, as upstream
	// serves both versions from one store).
	Storage *StorageConversion

	// Fields returns the selectable fields beyond metadata.name and
	// metadata.namespace, which the apiserver adds for every resource.
	Fields func(obj runtime.Object) fields.Set
	// Index, when set, is a selectable field the watch cache keeps the
	// objects and watchers by, as upstream's cacher keeps pods by
	// spec.nodeName: a list or watch whose field selector requires one
	// value of it reads and is sent that value's objects alone.
	Index *FieldIndex
	// Table prints rows for kubectl; nil gives NAME and AGE.
	Table *Table
}

// FieldIndex is one selectable field the watch cache indexes by.
type FieldIndex struct {
	// Field is the field's selector key; Fields must give it too.
	Field string
	// Value is obj's value of Field, as Fields gives it, without
	// building the whole field set (it runs on every change).
	Value func(obj runtime.Object) string
}

// Table is a resource's server-side printing.
type Table struct {
	Columns []metav1.TableColumnDefinition
	// Row returns the cells of one object, one per column, at time now.
	Row func(obj runtime.Object, now time.Time) []interface{}
}

// ScaleAccessor reads and writes the replica count behind /scale.
type ScaleAccessor struct {
	// Replicas returns spec.replicas, status.replicas and the label
	// selector (as a string) of obj.
	Get func(obj runtime.Object) (specReplicas, statusReplicas int32, selector string)
	// SetReplicas sets spec.replicas on obj.
	SetReplicas func(obj runtime.Object, replicas int32)
}

// StorageConversion maps a resource onto another resource's store.
type StorageConversion struct {
	// Resource is the stored resource's plural (the etcd key segment).
	Resource string
	Group    string
	// New returns an empty stored object; NewList an empty stored list.
	New, NewList func() runtime.Object
	// ToStorage and FromStorage convert between served and stored objects.
	ToStorage, FromStorage func(obj runtime.Object) (runtime.Object, error)
}

// Subresource is a discovery entry for a subresource the apiserver
// implements by name.
type Subresource struct {
	Name  string
	Kind  schema.GroupVersionKind // response kind; empty Group/Version means the parent's
	Verbs []string
}

// GroupResource names the resource in errors ("deployments.apps").
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.GroupVersion.Group, Resource: r.Resource}
}

// GVK is the resource's kind.
func (r *Resource) GVK() schema.GroupVersionKind { return r.GroupVersion.WithKind(r.Kind) }

// GVR is the resource.
func (r *Resource) GVR() schema.GroupVersionResource { return r.GroupVersion.WithResource(r.Resource) }
