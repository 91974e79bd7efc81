package kubelet

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Well-known node labels the kubelet sets, as upstream's.
const (
	labelHostname = "kubernetes.io/hostname"
	labelOS       = "kubernetes.io/os"
	labelArch     = "kubernetes.io/arch"
	labelBetaOS   = "beta.kubernetes.io/os"
	labelBetaArch = "beta.kubernetes.io/arch"
)

// nodeLabels are the labels this kubelet owns on its Node.
func (k *Kubelet) nodeLabels() map[string]string {
	labels := map[string]string{
		labelHostname: k.cfg.NodeName,
		labelOS:       runtime.GOOS,
		labelArch:     runtime.GOARCH,
		labelBetaOS:   runtime.GOOS,
		labelBetaArch: runtime.GOARCH,
	}
	maps.Copy(labels, k.cfg.Labels)
	return labels
}

// registerNode creates the Node, or adopts an existing one with the same
// name (a restarted kubelet), setting its labels; it retries until the
// API server answers or ctx ends.
func (k *Kubelet) registerNode(ctx context.Context) error {
	backoff := wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 100, Cap: 7 * time.Second}
	var lastErr error
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		lastErr = k.tryRegisterNode(ctx)
		if lastErr != nil {
			k.log.Info("node registration failed, retrying", "err", lastErr)
		}
		return lastErr == nil, nil
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w (last error: %v)", k.cfg.NodeName, err, lastErr)
	}
	return nil
}

func (k *Kubelet) tryRegisterNode(ctx context.Context) error {
	nodes := k.client.CoreV1().Nodes()
	status := k.computeNodeStatus(ctx)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   k.cfg.NodeName,
			Labels: k.nodeLabels(),
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
		Spec:   corev1.NodeSpec{Taints: k.cfg.Taints},
		Status: *status,
	}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		k.log.Info("registered node")
		k.recordNodeStatus(status)
		k.nodeEvent(created, corev1.EventTypeNormal, "Starting", "Starting kubelet.")
		k.nodeEvent(created, corev1.EventTypeNormal, "RegisteredNode", "Node "+k.cfg.NodeName+" registered")
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	want := k.nodeLabels()
	changed := false
	for key, v := range want {
		if existing.Labels[key] != v {
			changed = true
		}
	}
	if changed {
		existing = existing.DeepCopy()
		if existing.Labels == nil {
			existing.Labels = map[string]string{}
		}
		maps.Copy(existing.Labels, want)
		if existing, err = nodes.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	k.log.Info("node already registered, adopting it")
	k.nodeEvent(existing, corev1.EventTypeNormal, "Starting", "Starting kubelet.")
	return k.writeNodeStatus(ctx, status)
}

// nodeEvent records an event about the Node, referenced as upstream's
// kubelet does (by name, with the name as UID), so `kubectl describe
// node` finds it.
func (k *Kubelet) nodeEvent(node *corev1.Node, eventType, reason, message string) {
	ref := &corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: types.UID(node.Name)}
	k.recorder.Event(ref, eventType, reason, message)
}

func goarch() string { return runtime.GOARCH }

func isConflict(err error) bool { return apierrors.IsConflict(err) }
