package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/storage"
)

// transformFunc computes the desired object from the current one (a copy
// it may modify). It is re-run when a concurrent write wins.
type transformFunc func(ctx context.Context, current runtime.Object) (runtime.Object, error)

// updateKind says which part of the object a write may change.
type updateKind int

const (
	updateMain   updateKind = iota // PUT/PATCH of the resource: status is kept
	updateStatus                   // /status: only status (and some metadata)
	updateRaw                      // server-internal (binding, finalize): hooks skipped
)

// errNoObject tells update that the object does not exist and the
// transform wants it created (server-side apply, PUT on create-on-update).
var errCreateInstead = errors.New("create instead")

// update runs the update pipeline for the object at ns/name: transform,
// keep system metadata, split status/spec, default, validate, bump
// generation, track managed fields, allocate, write with CAS (retrying on
// conflicts). An object that is being deleted and has lost its last
// finalizer is removed.
func (s *Server) update(ctx context.Context, ep *endpoint, ns, name string, kind updateKind, o writeOptions, transform transformFunc) (runtime.Object, error) {
	res := ep.res
	gr := res.GroupResource()
	var undo func()
	tryUpdate := func(current runtime.Object) (runtime.Object, error) {
		if undo != nil {
			undo()
			undo = nil
		}
		obj, err := transform(ctx, current.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		if err := keepSystemMeta(ep, obj, current, name); err != nil {
			return nil, err
		}
		switch kind {
		case updateMain:
			if res.Default != nil {
				res.Default(obj)
			}
			if res.HasStatus {
				copyField(obj, current, "Status")
			}
			if res.PrepareForUpdate != nil {
				res.PrepareForUpdate(obj, current)
			}
		case updateStatus:
			copyField(obj, current, "Spec")
			acc, _ := meta.Accessor(obj)
			cur, _ := meta.Accessor(current)
			acc.SetOwnerReferences(cur.GetOwnerReferences())
		}
		if kind != updateRaw {
			var errs field.ErrorList
			if kind == updateStatus {
				if res.ValidateStatusUpdate != nil {
					errs = res.ValidateStatusUpdate(obj, current)
				}
			} else if res.ValidateUpdate != nil {
				errs = res.ValidateUpdate(obj, current)
			}
			errs = append(errs, validateFinalizersWhileDeleting(obj, current)...)
			if len(errs) > 0 {
				return nil, invalid(ep, name, errs)
			}
		}
		acc, _ := meta.Accessor(obj)
		if res.GenerationChanged != nil && kind == updateMain && res.GenerationChanged(obj, current) {
			acc.SetGeneration(acc.GetGeneration() + 1)
		}
		ep.setKind(obj)
		ep.setKind(current)
		if !o.managedDone {
			fm := ep.fieldManager
			if kind == updateStatus && ep.statusFieldManager != nil {
				fm = ep.statusFieldManager
			}
			obj = updateManagedFields(fm, ep.gvk.GroupVersion().String(), current, obj, o.fieldManager)
			keepManagedFieldsIfUnchanged(obj, current)
		}
		if res.BeforeUpdate != nil && kind == updateMain {
			u, err := res.BeforeUpdate(ctx, obj, current, o.dryRun)
			if err != nil {
				return nil, err
			}
			undo = u
		}
		return obj, nil
	}

	key := ep.key(ns, name)
	out := res.New()
	var err error
	if o.dryRun {
		err = ep.store.Get(ctx, key, storage.GetOptions{}, out)
		if err == nil {
			var obj runtime.Object
			obj, err = tryUpdate(out)
			if undo != nil {
				undo()
			}
			if err == nil {
				return obj, nil
			}
		}
	} else {
		err = ep.store.GuaranteedUpdate(ctx, key, out, false, nil, tryUpdate)
	}
	if err != nil {
		if undo != nil {
			undo()
		}
		return nil, toAPIError(err, gr, name)
	}
	if o.dryRun {
		return out, nil
	}
	if shouldDeleteNow(ep, out) {
		gone, err := s.removeNow(ctx, ep, ns, name, out)
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
			// Someone else removed or changed it meanwhile; the update
			// itself succeeded.
			return out, nil
		}
		return gone, toAPIError(err, gr, name)
	}
	return out, nil
}

// keepSystemMeta restores the fields clients may not change and checks
// the preconditions an update body carries (resourceVersion, uid).
func keepSystemMeta(ep *endpoint, obj, current runtime.Object, name string) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	cur, _ := meta.Accessor(current)
	gr := ep.res.GroupResource()
	if acc.GetName() != "" && acc.GetName() != name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), name))
	}
	if ep.res.Namespaced && acc.GetNamespace() != "" && acc.GetNamespace() != cur.GetNamespace() {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if rv := acc.GetResourceVersion(); rv != "" && rv != cur.GetResourceVersion() {
		return apierrors.NewConflict(gr, name, errors.New(conflictMessage))
	}
	if uid := acc.GetUID(); uid != "" && uid != cur.GetUID() {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, cur.GetUID()))
	}
	acc.SetName(name)
	acc.SetNamespace(cur.GetNamespace())
	acc.SetUID(cur.GetUID())
	acc.SetCreationTimestamp(cur.GetCreationTimestamp())
	acc.SetDeletionTimestamp(cur.GetDeletionTimestamp())
	acc.SetDeletionGracePeriodSeconds(cur.GetDeletionGracePeriodSeconds())
	acc.SetGeneration(cur.GetGeneration())
	acc.SetResourceVersion(cur.GetResourceVersion())
	acc.SetSelfLink("")
	if acc.GetGenerateName() == "" {
		acc.SetGenerateName(cur.GetGenerateName())
	}
	return nil
}

// validateFinalizersWhileDeleting forbids adding finalizers to an object
// that is being deleted.
func validateFinalizersWhileDeleting(obj, current runtime.Object) field.ErrorList {
	acc, _ := meta.Accessor(obj)
	cur, _ := meta.Accessor(current)
	if cur.GetDeletionTimestamp() == nil {
		return nil
	}
	added := sets.New(acc.GetFinalizers()...).Difference(sets.New(cur.GetFinalizers()...))
	if added.Len() == 0 {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"),
		fmt.Sprintf("no new finalizers can be added if the object is being deleted, found new finalizers %q", sets.List(added)))}
}

// keepManagedFieldsIfUnchanged restores current's managedFields when the
// update changes nothing else, so a no-op write stays a no-op instead of
// bumping the resourceVersion for a new timestamp. Entries that differ
// in more than their times mean the object changed, which settles it
// without comparing the rest (upstream compares in the same order).
func keepManagedFieldsIfUnchanged(obj, current runtime.Object) {
	acc, _ := meta.Accessor(obj)
	cur, _ := meta.Accessor(current)
	managed := acc.GetManagedFields()
	if !managedFieldsEqualButTimes(managed, cur.GetManagedFields()) {
		return
	}
	acc.SetManagedFields(cur.GetManagedFields())
	if !apiequality.Semantic.DeepEqual(obj, current) {
		acc.SetManagedFields(managed)
	}
}

// managedFieldsEqualButTimes reports whether a and b differ at most in
// their entries' times.
func managedFieldsEqualButTimes(a, b []metav1.ManagedFieldsEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Manager != y.Manager || x.Operation != y.Operation || x.APIVersion != y.APIVersion ||
			x.FieldsType != y.FieldsType || x.Subresource != y.Subresource ||
			(x.FieldsV1 == nil) != (y.FieldsV1 == nil) || (x.FieldsV1 != nil && !bytes.Equal(x.FieldsV1.Raw, y.FieldsV1.Raw)) {
			return false
		}
	}
	return true
}
