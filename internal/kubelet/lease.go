package kubelet

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// renewLease renews the node's Lease in kube-node-lease, the heartbeat
// the node lifecycle controller watches (cheaper than a status write). It
// updates the last known lease, or gets/creates it when there
// is none or the update conflicts.
func (k *Kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(k.clock.Now())
	k.node.mu.Lock()
	lease := k.node.lease
	k.node.mu.Unlock()
	if lease != nil {
		lease = lease.DeepCopy()
		lease.Spec.RenewTime = &now
		k.setLeaseSpec(ctx, lease)
		updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
		if err == nil {
			k.storeLease(updated)
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return err
		}
	}
	lease, err := leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: corev1.NamespaceNodeLease}}
		k.setLeaseSpec(ctx, lease)
		lease.Spec.RenewTime = &now
		created, err := leases.Create(ctx, lease, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		k.storeLease(created)
		return nil
	case err != nil:
		return err
	}
	lease = lease.DeepCopy()
	k.setLeaseSpec(ctx, lease)
	lease.Spec.RenewTime = &now
	updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	k.storeLease(updated)
	return nil
}

// setLeaseSpec sets holder, duration and the owner reference to the Node
// (so deleting the Node deletes its lease), as upstream.
func (k *Kubelet) setLeaseSpec(ctx context.Context, lease *coordinationv1.Lease) {
	holder, duration := k.cfg.NodeName, k.cfg.NodeLeaseDurationSeconds
	lease.Spec.HolderIdentity = &holder
	lease.Spec.LeaseDurationSeconds = &duration
	if len(lease.OwnerReferences) == 0 {
		if node, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{ResourceVersion: "0"}); err == nil {
			lease.OwnerReferences = []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
			}}
		}
	}
}

func (k *Kubelet) storeLease(lease *coordinationv1.Lease) {
	k.node.mu.Lock()
	k.node.lease = lease
	k.node.mu.Unlock()
}
