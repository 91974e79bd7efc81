package integration

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/test/framework"
)

// TestGCNodeOwnedLeases checks the garbage collector on a kubelet's
// Lease, owned by its Node: renewals are checked against the collector's
// cache of Nodes, not with a read of the Node each (at 2,000 nodes that
// was 200 reads a second), and the Lease goes when its Node does.
func TestGCNodeOwnedLeases(t *testing.T) {
	srv := framework.StartServer(t, framework.Options{Components: true})
	cs := srv.Client(t)
	ctx := ctxFor(t)
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gc-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	holder, duration := node.Name, int32(40)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node.Name, Namespace: corev1.NamespaceNodeLease,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration},
	}
	leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	if lease, err = leases.Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the collector has seen the node and the lease

	before := etcdRequests(t, cs, "get", "nodes")
	for range 20 {
		now := metav1.NewMicroTime(time.Now())
		lease.Spec.RenewTime = &now
		if lease, err = leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if n := etcdRequests(t, cs, "get", "nodes") - before; n > 2 {
		t.Errorf("20 Lease renewals made %v reads of the Node from etcd, want none from the collector", n)
	}
	if _, err := leases.Get(ctx, node.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the Lease of an existing Node: %v", err)
	}

	if err := cs.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the Lease of the deleted Node to be collected", func() bool {
		_, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
