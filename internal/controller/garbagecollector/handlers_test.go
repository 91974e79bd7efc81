package garbagecollector

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// TestUpdateQueuesOnlyCollectedChanges feeds the informers' update handler
// pairs of an object's states and checks which put the object on the
// queue: only changes to what sync reads of it (its ownerReferences,
// deletion and finalizers), not a renewal or a status write.
func TestUpdateQueuesOnlyCollectedChanges(t *testing.T) {
	gvr := schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
	base := func() *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Namespace: "kube-node-lease", Name: "n1", UID: "lease-uid", ResourceVersion: "10",
			Labels:     map[string]string{"a": "b"},
			Finalizers: []string{"example.com/keep"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "node-uid",
				BlockOwnerDeletion: ptr.To(false)}},
		}}
	}
	now := metav1.NewTime(time.Now())
	cases := []struct {
		name   string
		change func(*metav1.PartialObjectMetadata)
		queued bool
	}{
		{"a new resourceVersion alone (a renewal)", func(m *metav1.PartialObjectMetadata) { m.ResourceVersion = "11" }, false},
		{"labels and annotations", func(m *metav1.PartialObjectMetadata) {
			m.Labels = map[string]string{"a": "c"}
			m.Annotations = map[string]string{"x": "y"}
		}, false},
		{"another object of the same name", func(m *metav1.PartialObjectMetadata) { m.UID = "new-uid" }, true},
		{"deletion starts", func(m *metav1.PartialObjectMetadata) { m.DeletionTimestamp = &now }, true},
		{"a finalizer more", func(m *metav1.PartialObjectMetadata) {
			m.Finalizers = append(m.Finalizers, metav1.FinalizerDeleteDependents)
		}, true},
		{"a finalizer less", func(m *metav1.PartialObjectMetadata) { m.Finalizers = nil }, true},
		{"an owner more", func(m *metav1.PartialObjectMetadata) {
			m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "c", UID: "cm-uid"})
		}, true},
		{"the owner's name", func(m *metav1.PartialObjectMetadata) { m.OwnerReferences[0].Name = "n2" }, true},
		{"the owner's controller flag", func(m *metav1.PartialObjectMetadata) { m.OwnerReferences[0].Controller = ptr.To(true) }, true},
		{"blockOwnerDeletion unset", func(m *metav1.PartialObjectMetadata) { m.OwnerReferences[0].BlockOwnerDeletion = nil }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Controller{queue: controllerutil.NewQueue(Name + "-test")}
			defer c.queue.ShutDown()
			old, cur := base(), base()
			tc.change(cur)
			c.handlers(gvr).(cache.ResourceEventHandlerFuncs).OnUpdate(old, cur)
			if got := c.queue.Len() == 1; got != tc.queued {
				t.Fatalf("queued = %v (queue length %d), want %v", got, c.queue.Len(), tc.queued)
			}
			if tc.queued {
				key, _ := c.queue.Get()
				if want := objectKey(gvr, "kube-node-lease/n1"); key != want {
					t.Errorf("queued %q, want %q", key, want)
				}
			}
		})
	}
}
