package scheduler_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/test/framework"
)

// The pods here wait for a cluster event, never for the periodic retry of
// parked pods, which the tests push out of reach (MaxUnschedulable).
var eventsOnly = scheduler.Config{MaxUnschedulable: time.Hour}

// waitUnschedulable waits until the scheduler has tried pod and parked it.
func waitUnschedulable(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	waitFor(t, ctx, name+" unschedulable", func() (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, ok := unschedulableMessage(p)
		return ok, nil
	})
}

// waitBoundTo waits until pod is bound to node.
func waitBoundTo(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name, node string) {
	t.Helper()
	waitFor(t, ctx, name+" bound to "+node, func() (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Spec.NodeName != "" && p.Spec.NodeName != node {
			t.Fatalf("%s bound to %s, want %s", name, p.Spec.NodeName, node)
		}
		return p.Spec.NodeName == node, nil
	})
}

// boundPod is a pod created on node already, as a kubelet's static pod or
// another scheduler's would be.
func boundPod(name, node string, labels map[string]string) *corev1.Pod {
	p := newPod(name, "")
	p.Labels = labels
	p.Spec.NodeName = node
	return p
}

func requiredAffinity(app string) *corev1.PodAffinityTerm {
	return &corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		TopologyKey:   corev1.LabelHostname,
	}
}

// TestRequeueOnAssignedPodEvents: pods rejected by inter-pod affinity or
// topology spread are retried when an assigned pod appears or is
// relabelled, not minutes later.
func TestRequeueOnAssignedPodEvents(t *testing.T) {
	srv := framework.StartServer(t, framework.Options{})
	cs := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createNode(t, ctx, cs, "n1", "4", "8Gi", map[string]string{corev1.LabelHostname: "n1", corev1.LabelTopologyZone: "a"})
	createNode(t, ctx, cs, "n2", "4", "8Gi", map[string]string{corev1.LabelHostname: "n2", corev1.LabelTopologyZone: "b"})
	startScheduler(t, cs, eventsOnly)

	t.Run("a partner appears", func(t *testing.T) {
		follower := newPod("follower", "")
		follower.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{*requiredAffinity("partner")}}}
		createPod(t, ctx, cs, follower)
		waitUnschedulable(t, ctx, cs, "default", "follower")
		createPod(t, ctx, cs, boundPod("partner", "n2", map[string]string{"app": "partner"}))
		waitBoundTo(t, ctx, cs, "default", "follower", "n2")
	})

	t.Run("a blocking pod is relabelled", func(t *testing.T) {
		createPod(t, ctx, cs, boundPod("blocker-1", "n1", map[string]string{"app": "blocker"}))
		createPod(t, ctx, cs, boundPod("blocker-2", "n2", map[string]string{"app": "blocker"}))
		avoider := newPod("avoider", "")
		avoider.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{*requiredAffinity("blocker")}}}
		createPod(t, ctx, cs, avoider)
		waitUnschedulable(t, ctx, cs, "default", "avoider")
		_, err := cs.CoreV1().Pods("default").Patch(ctx, "blocker-1", types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"app":"moved"}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitBoundTo(t, ctx, cs, "default", "avoider", "n1")
	})

	t.Run("topology spread domains fill up", func(t *testing.T) {
		spreadLabels := map[string]string{"app": "spread"}
		createPod(t, ctx, cs, boundPod("spread-a", "n1", spreadLabels))
		// Held to zone a, where one more pod would make the skew 2 while
		// zone b has none.
		p := newPod("spread-pending", "")
		p.Labels = spreadLabels
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "n1"}
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector:      &metav1.LabelSelector{MatchLabels: spreadLabels},
			NodeAffinityPolicy: ptr.To(corev1.NodeInclusionPolicyIgnore),
		}}
		createPod(t, ctx, cs, p)
		waitUnschedulable(t, ctx, cs, "default", "spread-pending")
		createPod(t, ctx, cs, boundPod("spread-b", "n2", spreadLabels))
		waitBoundTo(t, ctx, cs, "default", "spread-pending", "n1")
	})
}

// TestAffinityNamespaceSelector: a term's namespaceSelector reads the
// namespaces' labels, and a namespace relabelled retries the pods waiting
// on it.
func TestAffinityNamespaceSelector(t *testing.T) {
	srv := framework.StartServer(t, framework.Options{})
	cs := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createNode(t, ctx, cs, "n1", "4", "8Gi", map[string]string{corev1.LabelHostname: "n1"})
	createNode(t, ctx, cs, "n2", "4", "8Gi", map[string]string{corev1.LabelHostname: "n2"})
	for _, ns := range []string{"team-x", "unlabelled"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "team-x", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels["team"] = "x"
	if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	partnerIn := func(ns, name, node string) {
		p := boundPod(name, node, map[string]string{"app": "partner"})
		p.Namespace = ns
		createPod(t, ctx, cs, p)
	}
	partnerIn("team-x", "partner-x", "n1")
	partnerIn("unlabelled", "partner-u", "n2")
	startScheduler(t, cs, eventsOnly)

	withSelector := func(name, team string) *corev1.Pod {
		term := requiredAffinity("partner")
		term.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": team}}
		p := newPod(name, "")
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{*term}}}
		return p
	}
	// Only the partner in the selected namespace counts.
	createPod(t, ctx, cs, withSelector("with-x", "x"))
	waitBoundTo(t, ctx, cs, "default", "with-x", "n1")

	// No namespace has team=y yet; labelling one lets the pod follow its
	// partner there.
	createPod(t, ctx, cs, withSelector("with-y", "y"))
	waitUnschedulable(t, ctx, cs, "default", "with-y")
	ns, err = cs.CoreV1().Namespaces().Get(ctx, "unlabelled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels["team"] = "y"
	if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitBoundTo(t, ctx, cs, "default", "with-y", "n2")
}
