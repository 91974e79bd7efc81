package controllertest

import (
	"context"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// NodeOptions shape the fake nodes' capacity and labels.
type NodeOptions struct {
	CPU, Memory, Pods string // capacity; defaults 4, 8Gi, 110
	Labels            map[string]string
	// Heartbeat is how often each node renews its Lease (default 2s).
	Heartbeat time.Duration
}

// Nodes are Node objects kept alive the way a kubelet keeps its node
// alive: Ready=True in status and a Lease in kube-node-lease renewed every
// Heartbeat, so the node lifecycle controller leaves them alone until a
// test Stops one.
type Nodes struct {
	client kubernetes.Interface
	opts   NodeOptions
	mu     sync.Mutex
	dead   map[string]bool
	names  []string
}

// StartNodes registers the named nodes and heart-beats them until the
// test ends.
func StartNodes(t *testing.T, client kubernetes.Interface, opts NodeOptions, names ...string) *Nodes {
	t.Helper()
	if opts.CPU == "" {
		opts.CPU = "4"
	}
	if opts.Memory == "" {
		opts.Memory = "8Gi"
	}
	if opts.Pods == "" {
		opts.Pods = "110"
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 2 * time.Second
	}
	n := &Nodes{client: client, opts: opts, dead: map[string]bool{}, names: names}
	ctx, cancel := context.WithCancel(context.Background())
	for _, name := range names {
		if err := n.register(ctx, name); err != nil {
			cancel()
			t.Fatalf("register node %s: %v", name, err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(opts.Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, name := range n.names {
					if !n.Dead(name) {
						_ = n.renew(ctx, name)
					}
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

// Stop ends a node's heartbeats, as if its machine went away.
func (n *Nodes) Stop(name string) {
	n.mu.Lock()
	n.dead[name] = true
	n.mu.Unlock()
}

// Dead reports whether Stop was called for the node.
func (n *Nodes) Dead(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dead[name]
}

func (n *Nodes) register(ctx context.Context, name string) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(n.opts.CPU),
		corev1.ResourceMemory: resource.MustParse(n.opts.Memory),
		corev1.ResourcePods:   resource.MustParse(n.opts.Pods),
	}
	labels := map[string]string{corev1.LabelHostname: name, corev1.LabelOSStable: "linux"}
	for k, v := range n.opts.Labels {
		labels[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}},
		},
	}
	created, err := n.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	// Status is ignored on create; post it the way a kubelet does (the
	// node IPAM controller may have written the node meanwhile).
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		created.Status = node.Status
		created.Status.Conditions = []corev1.NodeCondition{readyCondition()}
		_, err := n.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if fresh, gerr := n.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); gerr == nil {
				created = fresh
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	return n.renew(ctx, name)
}

func readyCondition() corev1.NodeCondition {
	now := metav1.Now()
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now}
}

// renew renews the node's Lease, creating it the first time.
func (n *Nodes) renew(ctx context.Context, name string) error {
	leases := n.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To[int32](40),
				RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// Revive restarts a stopped node's heartbeats and posts Ready=True again,
// as a kubelet coming back does.
func (n *Nodes) Revive(ctx context.Context, name string) error {
	n.mu.Lock()
	delete(n.dead, name)
	n.mu.Unlock()
	node, err := n.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	conds := []corev1.NodeCondition{readyCondition()}
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			conds = append(conds, c)
		}
	}
	node.Status.Conditions = conds
	if _, err := n.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return err
	}
	return n.renew(ctx, name)
}
