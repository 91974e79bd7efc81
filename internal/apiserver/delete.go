package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage"
)

// delete deletes ns/name following opts: preconditions, propagation
// (which finalizers the garbage collector sees), graceful deletion and
// finalizers. It returns the object as it is after the call: gone (its
// last state) or lingering with deletionTimestamp set.
func (s *Server) delete(ctx context.Context, ep *endpoint, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (runtime.Object, error) {
	gr := ep.res.GroupResource()
	if err := validateDeleteOptions(opts); err != nil {
		return nil, err
	}
	for {
		current := ep.res.New()
		if err := ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, current); err != nil {
			return nil, toAPIError(err, gr, name)
		}
		out, err := s.deleteOnce(ctx, ep, ns, name, current, opts, dryRun)
		if errors.Is(err, storage.ErrConflict) && ctx.Err() == nil {
			// The object changed under us: decide again, and check the
			// preconditions against it as it is now (as upstream's
			// store does). A write in between does not fail a delete
			// whose preconditions still hold, however busy the
			// object's writers are. The request's deadline
			// (timeout.go) bounds the loop.
			continue
		}
		return out, toAPIError(err, gr, name)
	}
}

func (s *Server) deleteOnce(ctx context.Context, ep *endpoint, ns, name string, current runtime.Object, opts *metav1.DeleteOptions, dryRun bool) (runtime.Object, error) {
	gr := ep.res.GroupResource()
	acc, _ := meta.Accessor(current)
	if p := opts.Preconditions; p != nil {
		if p.UID != nil && *p.UID != acc.GetUID() {
			return nil, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, acc.GetUID()))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
			return nil, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, acc.GetResourceVersion()))
		}
	}
	obj := current.DeepCopyObject()
	m, _ := meta.Accessor(obj)
	changed := applyPropagation(m, opts)

	keep := false
	if ep.res.BeforeDelete != nil {
		k, err := ep.res.BeforeDelete(obj)
		if err != nil {
			return nil, err
		}
		keep = k
		changed = changed || k
	}

	now := s.now()
	grace, graceful := int64(0), false
	if ep.res.GracefulDeletion != nil {
		grace, graceful = ep.res.GracefulDeletion(obj, opts.GracePeriodSeconds)
	}
	if ts := m.GetDeletionTimestamp(); ts != nil {
		// Already being deleted: a shorter grace period moves the deadline
		// closer; nothing else changes it.
		if graceful && grace > 0 {
			if old := m.GetDeletionGracePeriodSeconds(); old == nil || grace < *old {
				deadline := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
				if deadline.Before(ts) {
					m.SetDeletionTimestamp(&deadline)
				}
				m.SetDeletionGracePeriodSeconds(&grace)
				changed = true
			}
			graceful = true
		} else if graceful || grace == 0 {
			zero := int64(0)
			if old := m.GetDeletionGracePeriodSeconds(); old == nil || *old != 0 {
				m.SetDeletionGracePeriodSeconds(&zero)
				changed = true
			}
			graceful = false
		}
	} else if graceful && grace > 0 {
		deadline := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
		m.SetDeletionTimestamp(&deadline)
		m.SetDeletionGracePeriodSeconds(&grace)
		changed = true
	} else if keep || len(m.GetFinalizers()) > 0 {
		ts := metav1.NewTime(now)
		zero := int64(0)
		m.SetDeletionTimestamp(&ts)
		m.SetDeletionGracePeriodSeconds(&zero)
		changed = true
	}

	if (graceful && grace > 0) || keep || len(m.GetFinalizers()) > 0 || pendingSpecFinalizers(obj) {
		if dryRun || !changed {
			return obj, nil
		}
		rv := acc.GetResourceVersion()
		out := ep.res.New()
		err := ep.store.GuaranteedUpdate(ctx, ep.key(ns, name), out, false, &storage.Preconditions{ResourceVersion: &rv},
			func(runtime.Object) (runtime.Object, error) { return obj, nil })
		return out, err
	}
	if dryRun {
		return obj, nil
	}
	return s.removeNow(ctx, ep, ns, name, current)
}

// removeNow deletes the stored object if it is still the one given.
func (s *Server) removeNow(ctx context.Context, ep *endpoint, ns, name string, current runtime.Object) (runtime.Object, error) {
	acc, _ := meta.Accessor(current)
	rv := acc.GetResourceVersion()
	out := ep.res.New()
	if err := ep.store.Delete(ctx, ep.key(ns, name), out, &storage.Preconditions{ResourceVersion: &rv}, nil); err != nil {
		return nil, err
	}
	if ep.res.AfterDelete != nil {
		ep.res.AfterDelete(ctx, out)
	}
	return out, nil
}

// applyPropagation sets the orphan/foregroundDeletion finalizers the
// garbage collector acts on. It reports whether it changed anything.
func applyPropagation(m metav1.Object, opts *metav1.DeleteOptions) bool {
	var policy metav1.DeletionPropagation
	switch {
	case opts.PropagationPolicy != nil:
		policy = *opts.PropagationPolicy
	case opts.OrphanDependents != nil && *opts.OrphanDependents:
		policy = metav1.DeletePropagationOrphan
	case opts.OrphanDependents != nil:
		policy = metav1.DeletePropagationBackground
	default:
		return false
	}
	finalizers := m.GetFinalizers()
	want := map[string]bool{
		metav1.FinalizerOrphanDependents: policy == metav1.DeletePropagationOrphan,
		metav1.FinalizerDeleteDependents: policy == metav1.DeletePropagationForeground,
	}
	var out []string
	changed := false
	for _, f := range finalizers {
		if w, ok := want[f]; ok && !w {
			changed = true
			continue
		}
		if want[f] {
			want[f] = false // already present
		}
		out = append(out, f)
	}
	for _, f := range []string{metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents} {
		if want[f] {
			out = append(out, f)
			changed = true
		}
	}
	if changed {
		m.SetFinalizers(out)
	}
	return changed
}

func validateDeleteOptions(opts *metav1.DeleteOptions) error {
	if opts.OrphanDependents != nil && opts.PropagationPolicy != nil {
		return apierrors.NewBadRequest("orphanDependents and propagationPolicy cannot both be set")
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q", *p))
		}
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q", v))
		}
	}
	return nil
}

// pendingSpecFinalizers reports finalizers that live in the spec
// (namespaces' spec.finalizers) and keep a deleted object around.
func pendingSpecFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// shouldDeleteNow: an object being deleted whose finalizers are all gone
// (and whose grace period is over) is removed by the write that cleared
// them.
func shouldDeleteNow(ep *endpoint, obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	if err != nil || m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 || pendingSpecFinalizers(obj) {
		return false
	}
	g := m.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}
