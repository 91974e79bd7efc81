package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
)

// Every write names the object by UID (a delete precondition, or a JSON
// patch test), so a write planned from a stale cache fails instead of
// touching a newer object of the same name; a failed test or precondition
// requeues the key, and the next sync reads the newer cache.

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func (c *Controller) resource(gvr schema.GroupVersionResource, ns string) metadata.ResourceInterface {
	if ns == "" {
		return c.metadata.Resource(gvr)
	}
	return c.metadata.Resource(gvr).Namespace(ns)
}

// removeOwnerRefs drops d's references to the owners in uids.
func (c *Controller) removeOwnerRefs(ctx context.Context, d node, uids map[types.UID]bool) error {
	patch := removeOwnerRefsPatch(d.meta, uids)
	if patch == nil {
		return nil
	}
	return c.patch(ctx, d.gvr, d.meta, patch)
}

// removeOwnerRefsPatch is a JSON patch removing m's references to uids,
// each guarded by a test of its UID; nil when there are none.
func removeOwnerRefsPatch(m *metav1.PartialObjectMetadata, uids map[types.UID]bool) []byte {
	ops := []jsonPatchOp{{Op: "test", Path: "/metadata/uid", Value: m.UID}}
	// Highest index first, so each removal leaves lower indexes in place.
	for i := len(m.OwnerReferences) - 1; i >= 0; i-- {
		ref := m.OwnerReferences[i]
		if !uids[ref.UID] {
			continue
		}
		path := fmt.Sprintf("/metadata/ownerReferences/%d", i)
		ops = append(ops, jsonPatchOp{Op: "test", Path: path + "/uid", Value: ref.UID}, jsonPatchOp{Op: "remove", Path: path})
	}
	if len(ops) == 1 {
		return nil
	}
	b, _ := json.Marshal(ops)
	return b
}

// removeFinalizer drops finalizer f from m; the API server removes m once
// its last finalizer is gone.
func (c *Controller) removeFinalizer(ctx context.Context, gvr schema.GroupVersionResource, m *metav1.PartialObjectMetadata, f string) error {
	patch := removeFinalizerPatch(m, f)
	if patch == nil {
		return nil
	}
	return c.patch(ctx, gvr, m, patch)
}

func removeFinalizerPatch(m *metav1.PartialObjectMetadata, f string) []byte {
	for i := len(m.Finalizers) - 1; i >= 0; i-- {
		if m.Finalizers[i] != f {
			continue
		}
		path := fmt.Sprintf("/metadata/finalizers/%d", i)
		b, _ := json.Marshal([]jsonPatchOp{
			{Op: "test", Path: "/metadata/uid", Value: m.UID},
			{Op: "test", Path: path, Value: f},
			{Op: "remove", Path: path},
		})
		return b
	}
	return nil
}

func (c *Controller) patch(ctx context.Context, gvr schema.GroupVersionResource, m *metav1.PartialObjectMetadata, patch []byte) error {
	_, err := c.resource(gvr, m.Namespace).Patch(ctx, m.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil // gone: nothing left to converge
	}
	if err != nil {
		return fmt.Errorf("patch %s %s: %w", gvr.Resource, name(m), err)
	}
	return nil
}

// deleteObject deletes d if it is still the object the cache saw.
func (c *Controller) deleteObject(ctx context.Context, d node, policy metav1.DeletionPropagation) error {
	uid := d.meta.UID
	err := c.resource(d.gvr, d.meta.Namespace).Delete(ctx, d.meta.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &uid},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or replaced by a newer object with its own sync
	}
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", d.gvr.Resource, name(d.meta), err)
	}
	return nil
}
