package garbagecollector

import (
	"slices"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// The owner→dependents graph is two informer indexes on every watched
// resource: objects by their own UID, and objects by each UID their
// ownerReferences name. The informers keep both current; nothing else
// holds graph state, so a restart rebuilds it from one list.
const (
	uidIndex   = "uid"
	ownerIndex = "ownerUID"
)

func indexByUID(obj any) ([]string, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil, nil
	}
	return []string{string(m.UID)}, nil
}

func indexByOwnerUID(obj any) ([]string, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok || len(m.OwnerReferences) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(m.OwnerReferences))
	for _, ref := range m.OwnerReferences {
		out = append(out, string(ref.UID))
	}
	return out, nil
}

// node is a cached object and its resource. meta is the informer's copy:
// never modify it.
type node struct {
	gvr  schema.GroupVersionResource
	meta *metav1.PartialObjectMetadata
}

// dependents returns the cached objects whose ownerReferences name uid.
func (c *Controller) dependents(uid types.UID) []node {
	var out []node
	for gvr, inf := range c.informers {
		objs, err := inf.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, o := range objs {
			if m, ok := o.(*metav1.PartialObjectMetadata); ok {
				out = append(out, node{gvr: gvr, meta: m})
			}
		}
	}
	return out
}

// cachedByUID returns the cached objects with that UID (at most one,
// unless a UID was reused, which the API server never does).
func (c *Controller) cachedByUID(uid types.UID) map[schema.GroupVersionResource]*metav1.PartialObjectMetadata {
	out := map[schema.GroupVersionResource]*metav1.PartialObjectMetadata{}
	for gvr, inf := range c.informers {
		objs, err := inf.GetIndexer().ByIndex(uidIndex, string(uid))
		if err != nil {
			continue
		}
		for _, o := range objs {
			if m, ok := o.(*metav1.PartialObjectMetadata); ok {
				out[gvr] = m
			}
		}
	}
	return out
}

// refTo returns m's ownerReference to uid, or nil.
func refTo(m *metav1.PartialObjectMetadata, uid types.UID) *metav1.OwnerReference {
	for i := range m.OwnerReferences {
		if m.OwnerReferences[i].UID == uid {
			return &m.OwnerReferences[i]
		}
	}
	return nil
}

func sameOwners(a, b *metav1.PartialObjectMetadata) bool {
	if len(a.OwnerReferences) != len(b.OwnerReferences) {
		return false
	}
	for i := range a.OwnerReferences {
		x, y := a.OwnerReferences[i], b.OwnerReferences[i]
		if x.UID != y.UID || blocks(&x) != blocks(&y) {
			return false
		}
	}
	return true
}

// collectedStateChanged reports whether b differs from a in what sync
// reads of an object: its ownerReferences, whether it is being deleted,
// and its finalizers; or whether b is another object of the same name
// (a relist after a missed delete reports the new one as an update).
func collectedStateChanged(a, b *metav1.PartialObjectMetadata) bool {
	return a.UID != b.UID || (a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) ||
		!slices.Equal(a.Finalizers, b.Finalizers) ||
		!apiequality.Semantic.DeepEqual(a.OwnerReferences, b.OwnerReferences)
}

func blocks(ref *metav1.OwnerReference) bool {
	return ref != nil && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
}

func hasFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}
