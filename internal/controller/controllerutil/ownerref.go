package controllerutil

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// NewControllerRef is the owner reference a controller puts on what it
// creates: controller and blockOwnerDeletion both true.
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	return metav1.NewControllerRef(owner, gvk)
}

type patchMeta struct {
	OwnerReferences []any     `json:"ownerReferences"`
	UID             types.UID `json:"uid"`
}

// AdoptPatch is a strategic-merge patch that adds owner as the controller
// of the object with uid; the uid makes the patch fail if the object was
// replaced by another of the same name.
func AdoptPatch(owner metav1.Object, gvk schema.GroupVersionKind, uid types.UID) []byte {
	ref := NewControllerRef(owner, gvk)
	b, _ := json.Marshal(map[string]patchMeta{"metadata": {OwnerReferences: []any{ref}, UID: uid}})
	return b
}

// ReleasePatch is a strategic-merge patch that removes the owner reference
// with ownerUID from the object with uid.
func ReleasePatch(ownerUID, uid types.UID) []byte {
	del := map[string]any{"$patch": "delete", "uid": ownerUID}
	b, _ := json.Marshal(map[string]patchMeta{"metadata": {OwnerReferences: []any{del}, UID: uid}})
	return b
}
