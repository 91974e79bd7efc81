package garbagecollector

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// sync converges one object: as an owner being deleted with a
// garbage-collection finalizer, it deletes or orphans its dependents; as
// a dependent, it checks its owners still exist.
func (c *Controller) sync(ctx context.Context, key string) error {
	gvr, nsName, err := parseKey(key)
	if err != nil {
		return nil // never valid; retrying cannot help
	}
	inf, ok := c.informers[gvr]
	if !ok {
		return nil
	}
	obj, exists, err := inf.GetIndexer().GetByKey(nsName)
	if err != nil || !exists {
		return err
	}
	m := obj.(*metav1.PartialObjectMetadata)
	if m.DeletionTimestamp != nil {
		switch {
		case hasFinalizer(m, metav1.FinalizerOrphanDependents):
			return c.orphanDependents(ctx, gvr, m)
		case hasFinalizer(m, metav1.FinalizerDeleteDependents):
			return c.deleteDependents(ctx, gvr, m)
		}
		return nil // already going; its own finalizers are someone else's
	}
	return c.checkOwners(ctx, gvr, m)
}

// orphanDependents removes the owner's reference from every dependent,
// then the orphan finalizer from the owner.
func (c *Controller) orphanDependents(ctx context.Context, gvr schema.GroupVersionResource, owner *metav1.PartialObjectMetadata) error {
	var errs []error
	for _, d := range c.dependents(owner.UID) {
		if err := c.removeOwnerRefs(ctx, d, map[types.UID]bool{owner.UID: true}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.log.Info("orphaned dependents", "resource", gvr.Resource, "object", name(owner))
	return c.removeFinalizer(ctx, gvr, owner, metav1.FinalizerOrphanDependents)
}

// deleteDependents drives foreground deletion of owner: its dependents are
// queued (each then sees owner waiting for it and deletes itself); once
// none that blocks owner deletion is left, the finalizer goes.
func (c *Controller) deleteDependents(ctx context.Context, gvr schema.GroupVersionResource, owner *metav1.PartialObjectMetadata) error {
	deps := c.dependents(owner.UID)
	blocking := 0
	for _, d := range deps {
		if blocks(refTo(d.meta, owner.UID)) {
			blocking++
		}
		c.enqueue(d.gvr, d.meta)
	}
	if blocking > 0 {
		c.log.Debug("waiting for dependents", "resource", gvr.Resource, "object", name(owner), "blocking", blocking)
		return nil // their deletion or release requeues owner
	}
	return c.removeFinalizer(ctx, gvr, owner, metav1.FinalizerDeleteDependents)
}

// ownerState is what a dependent's ownerReference points at.
type ownerState int

const (
	ownerSolid    ownerState = iota // exists and is not being deleted in the foreground
	ownerDangling                   // gone, or replaced by another object (other UID)
	ownerWaiting                    // in foreground deletion, waiting for its dependents
)

// checkOwners deletes a dependent whose owners are all gone or waiting for
// it, and drops the references to gone or waiting owners from one that
// still has a solid owner.
func (c *Controller) checkOwners(ctx context.Context, gvr schema.GroupVersionResource, m *metav1.PartialObjectMetadata) error {
	if len(m.OwnerReferences) == 0 {
		return nil
	}
	var solid, waiting int
	drop := map[types.UID]bool{}
	for i := range m.OwnerReferences {
		ref := &m.OwnerReferences[i]
		state, err := c.ownerState(ctx, m.Namespace, ref)
		if err != nil {
			return err
		}
		switch state {
		case ownerSolid:
			solid++
		case ownerWaiting:
			waiting++
			drop[ref.UID] = true
		case ownerDangling:
			drop[ref.UID] = true
		}
	}
	d := node{gvr: gvr, meta: m}
	if solid > 0 {
		if len(drop) == 0 {
			return nil
		}
		c.log.Info("removing references to deleted owners", "resource", gvr.Resource, "object", name(m))
		return c.removeOwnerRefs(ctx, d, drop)
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case hasFinalizer(m, metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case hasFinalizer(m, metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	case waiting > 0 && len(c.dependents(m.UID)) > 0:
		// An owner waits for this object; make it wait for the whole
		// subtree, not just this object.
		policy = metav1.DeletePropagationForeground
	}
	c.log.Info("deleting dependent", "resource", gvr.Resource, "object", name(m), "propagation", policy)
	return c.deleteObject(ctx, d, policy)
}

// ownerState classifies ref, from the cache when the owner is there and
// with a live GET otherwise (the cache may lag a just-created owner).
// An owner whose kind discovery does not know is kept (solid).
func (c *Controller) ownerState(ctx context.Context, ns string, ref *metav1.OwnerReference) (ownerState, error) {
	for _, owner := range c.cachedByUID(ref.UID) {
		return stateOf(owner), nil
	}
	info, err := c.kinds.resolve(ref.APIVersion, ref.Kind)
	if errors.Is(err, errUnknownKind) {
		c.log.Debug("cannot verify owner", "apiVersion", ref.APIVersion, "kind", ref.Kind, "name", ref.Name, "err", err)
		return ownerSolid, nil
	}
	if err != nil {
		return 0, err
	}
	res := c.metadata.Resource(info.gvr)
	var owner *metav1.PartialObjectMetadata
	if info.namespaced {
		owner, err = res.Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	} else {
		owner, err = res.Get(ctx, ref.Name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return ownerDangling, nil
	case err != nil:
		return 0, fmt.Errorf("get owner %s %s: %w", ref.Kind, ref.Name, err)
	case owner.UID != ref.UID:
		return ownerDangling, nil
	}
	return stateOf(owner), nil
}

func stateOf(owner *metav1.PartialObjectMetadata) ownerState {
	if owner.DeletionTimestamp != nil && hasFinalizer(owner, metav1.FinalizerDeleteDependents) {
		return ownerWaiting
	}
	return ownerSolid
}

func name(m *metav1.PartialObjectMetadata) string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}
