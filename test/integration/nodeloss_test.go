package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/test/framework"
)

// TestNodeLossReplacesPods: a node stops heart-beating; the node
// lifecycle controller marks it Unknown and taints it unreachable, the
// taint evicts its pods once their toleration runs out, and the
// ReplicaSet's replacements land on the remaining nodes (the scheduler
// honours the NoSchedule taint).
func TestNodeLossReplacesPods(t *testing.T) {
	s := framework.StartServer(t, framework.Options{Components: true, NodeMonitorGracePeriod: 3 * time.Second})
	client := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes := controllertest.StartNodes(t, client, controllertest.NodeOptions{Heartbeat: 500 * time.Millisecond},
		"node-0", "node-1", "node-2")
	controllertest.StartNodeKubelet(t, client, "", nodes)

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](6),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}},
					// Shorter than the 300s added by default, as users set
					// it for fast fail-over.
					Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
						Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](1)}},
				},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, ctx, client, "web", 6)
	onNode := func(node string) (running, terminating int, err error) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			return 0, 0, err
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				terminating++
			} else {
				running++
			}
		}
		return running, terminating, nil
	}
	before, _, err := onNode("node-0")
	if err != nil || before == 0 {
		t.Fatalf("want pods on node-0 before it goes away, have %d (%v)", before, err)
	}

	lost := time.Now()
	nodes.Stop("node-0")
	controllertest.Eventually(t, 30*time.Second, func() error {
		n, err := client.CoreV1().Nodes().Get(ctx, "node-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionUnknown {
				return fmt.Errorf("node-0 Ready=%s", c.Status)
			}
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute {
				return nil
			}
		}
		return fmt.Errorf("node-0 has no unreachable NoExecute taint: %v", n.Spec.Taints)
	})
	unknownAfter := time.Since(lost)
	// Its pods are evicted (they stay Terminating: nobody on node-0 is
	// left to finish them) and replaced elsewhere.
	controllertest.Eventually(t, 45*time.Second, func() error {
		if running, _, err := onNode("node-0"); err != nil || running > 0 {
			return fmt.Errorf("%d pods still active on node-0 (%v)", running, err)
		}
		dep, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if dep.Status.AvailableReplicas != 6 {
			return fmt.Errorf("%d of 6 replicas available", dep.Status.AvailableReplicas)
		}
		return nil
	})
	_, terminating, _ := onNode("node-0")
	t.Logf("node-0 lost: Unknown and tainted after %v, its %d pods evicted (%d still terminating there) and replaced on the other nodes after %v",
		unknownAfter.Round(100*time.Millisecond), before, terminating, time.Since(lost).Round(100*time.Millisecond))
}
