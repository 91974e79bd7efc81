package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestBindingAndGracefulDeletion(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	pods := cs.CoreV1().Pods("default")
	p, err := pods.Create(ctx, testPod("g"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "g", UID: p.UID}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bound, _ := pods.Get(ctx, "g", metav1.GetOptions{})
	if bound.Spec.NodeName != "n1" {
		t.Fatalf("nodeName %q", bound.Spec.NodeName)
	}
	scheduled := false
	for _, c := range bound.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue)
	}
	if !scheduled {
		t.Fatalf("PodScheduled not set: %+v", bound.Status.Conditions)
	}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("second bind: %v, want Conflict", err)
	}

	// A bound pod lingers with deletionTimestamp until the kubelet finishes.
	if err := pods.Delete(ctx, "g", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	lingering, err := pods.Get(ctx, "g", metav1.GetOptions{})
	if err != nil || lingering.DeletionTimestamp == nil || ptr.Deref(lingering.DeletionGracePeriodSeconds, -1) != 30 {
		t.Fatalf("graceful delete: %v %+v", err, lingering.ObjectMeta)
	}
	if d := time.Until(lingering.DeletionTimestamp.Time); d < 20*time.Second || d > 31*time.Second {
		t.Errorf("deletionTimestamp %v from now", d)
	}
	// A wrong UID precondition is refused; the kubelet's is accepted.
	err = pods.Delete(ctx, "g", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), Preconditions: metav1.NewUIDPreconditions("wrong")})
	if !apierrors.IsConflict(err) {
		t.Fatalf("wrong uid: %v", err)
	}
	if err := pods.Delete(ctx, "g", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), Preconditions: metav1.NewUIDPreconditions(string(p.UID))}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "g", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod still there: %v", err)
	}
	// An unbound pod goes at once.
	pods.Create(ctx, testPod("u"), metav1.CreateOptions{})
	pods.Delete(ctx, "u", metav1.DeleteOptions{})
	if _, err := pods.Get(ctx, "u", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("unbound pod lingers: %v", err)
	}
}

func TestEvictionDeletesPod(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	pods := cs.CoreV1().Pods("default")
	pods.Create(ctx, testPod("e"), metav1.CreateOptions{})
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}}
	if err := pods.EvictV1(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "e", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicted pod still there: %v", err)
	}
	if err := pods.EvictV1(ctx, ev); !apierrors.IsNotFound(err) {
		t.Fatalf("evicting missing pod: %v", err)
	}
}

func TestFinalizersAndPropagation(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	cms := cs.CoreV1().ConfigMaps("default")
	cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "f", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err := cms.Delete(ctx, "f", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "f", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("finalized object: %v %+v", err, got)
	}
	if len(got.Finalizers) != 2 || got.Finalizers[1] != metav1.FinalizerDeleteDependents {
		t.Fatalf("finalizers %v, want foregroundDeletion added", got.Finalizers)
	}
	// Adding a finalizer while deleting is forbidden.
	got.Finalizers = append(got.Finalizers, "new")
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("adding finalizer while deleting: %v", err)
	}
	// Removing the last finalizer deletes the object.
	got.Finalizers = nil
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("object with no finalizers left lingers: %v", err)
	}
	// Orphan propagation sets the orphan finalizer.
	cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "o"}}, metav1.CreateOptions{})
	cms.Delete(ctx, "o", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationOrphan)})
	o, err := cms.Get(ctx, "o", metav1.GetOptions{})
	if err != nil || len(o.Finalizers) != 1 || o.Finalizers[0] != metav1.FinalizerOrphanDependents {
		t.Fatalf("orphan: %v %+v", err, o)
	}
}

// TestDeletePreconditionsAgainstConcurrentWrites deletes objects with a UID
// precondition while another client keeps writing them, as the garbage
// collector and kubelets do while status writers are busy. As upstream's
// store does, the server checks the precondition against the object as
// it is at the delete, retrying when a write lands in between: every
// delete succeeds, none is refused as a conflict. A resourceVersion
// precondition the writes made stale is still refused.
func TestDeletePreconditionsAgainstConcurrentWrites(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	cms := cs.CoreV1().ConfigMaps("default")
	for i := range 20 {
		name := fmt.Sprintf("busy-%d", i)
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				patch := fmt.Appendf(nil, `{"data":{"n":"%d"}}`, n)
				if _, err := cms.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
					return // deleted
				}
			}
		}()
		time.Sleep(5 * time.Millisecond) // writes under way
		err = cms.Delete(ctx, name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(cm.UID))})
		close(stop)
		<-done
		if err != nil {
			t.Fatalf("delete %s with its own UID as precondition, during writes: %v", name, err)
		}
		if _, err := cms.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("%s still there after its delete: %v", name, err)
		}
	}

	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stale"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Patch(ctx, "stale", types.MergePatchType, []byte(`{"data":{"a":"b"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	err = cms.Delete(ctx, "stale", *metav1.NewRVDeletionPrecondition(cm.ResourceVersion))
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Precondition failed") {
		t.Fatalf("delete with a stale resourceVersion precondition: %v, want a Conflict for the precondition", err)
	}
}
