package nodelifecycle_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
)

const (
	unreachable = corev1.TaintNodeUnreachable
	notReady    = corev1.TaintNodeNotReady
)

// TestSilentNode: nodes whose lease is renewed stay Ready and untainted;
// one that goes silent is marked Unknown and unreachable, its pods not
// ready and evicted as their tolerations say; when it is back, so are its
// taints gone.
func TestSilentNode(t *testing.T) {
	t.Parallel()
	client, ns := controllertest.Start(t)
	startKubelet(t, client, "steady")
	flaky := startKubelet(t, client, "flaky")
	two := int64(2)
	createPod(t, client, ns, "bystander", "steady", tolerateNothing(unreachable))
	createPod(t, client, ns, "untolerated", "flaky", tolerateNothing(unreachable))
	createPod(t, client, ns, "two-seconds", "flaky", tolerate(unreachable, &two))
	createPod(t, client, ns, "forever", "flaky", tolerate(unreachable, nil))
	startController(t, client, nodelifecycle.Options{})

	// Longer than the grace period: renewing leases keep nodes healthy.
	time.Sleep(gracePeriod + time.Second)
	for _, name := range []string{"steady", "flaky"} {
		n, err := getNode(t, client, name)
		if err != nil {
			t.Fatal(err)
		}
		if c := nodeCondition(n, corev1.NodeReady); c == nil || c.Status != corev1.ConditionTrue {
			t.Fatalf("node %s with a renewing lease: Ready %+v", name, c)
		}
		if len(n.Spec.Taints) != 0 {
			t.Fatalf("node %s with a renewing lease has taints %v", name, n.Spec.Taints)
		}
	}
	for _, name := range []string{"bystander", "untolerated", "two-seconds", "forever"} {
		p, err := getPod(t, client, ns, name)
		if err != nil || p.DeletionTimestamp != nil {
			t.Fatalf("pod %s on a healthy node: %v, deleting %v", name, err, p.DeletionTimestamp)
		}
	}

	flaky.setAlive(false)
	silent := time.Now()
	var timeAdded time.Time
	controllertest.Eventually(t, gracePeriod+5*time.Second, func() error {
		n, err := getNode(t, client, "flaky")
		if err != nil {
			return err
		}
		for _, typ := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure} {
			c := nodeCondition(n, typ)
			if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" ||
				c.Message != "Kubelet stopped posting node status." {
				return controllertest.Errorf("%s: %+v", typ, c)
			}
		}
		// The kubelet never posted PIDPressure.
		if c := nodeCondition(n, corev1.NodePIDPressure); c == nil || c.Status != corev1.ConditionUnknown ||
			c.Reason != "NodeStatusNeverUpdated" || c.Message != "Kubelet never posted node status." {
			return controllertest.Errorf("PIDPressure: %+v", c)
		}
		if findTaint(n, unreachable, corev1.TaintEffectNoSchedule) == nil {
			return controllertest.Errorf("no unreachable:NoSchedule taint in %v", n.Spec.Taints)
		}
		tt := findTaint(n, unreachable, corev1.TaintEffectNoExecute)
		if tt == nil || tt.TimeAdded == nil {
			return controllertest.Errorf("no unreachable:NoExecute taint with timeAdded in %v", n.Spec.Taints)
		}
		timeAdded = tt.TimeAdded.Time
		return nil
	})
	tainted := time.Now()
	// The last renewal came at most renewPeriod before the kubelet stopped.
	if took := tainted.Sub(silent); took < gracePeriod-renewPeriod {
		t.Errorf("node marked Unknown %v after its last heartbeat, before the grace period", took)
	}

	// Watch the pods on the flaky node until well past the tolerations.
	evictedAt := map[string]time.Time{}
	for time.Now().Before(timeAdded.Add(2*time.Second + 3*time.Second)) {
		for _, name := range []string{"untolerated", "two-seconds", "forever", "bystander"} {
			if _, seen := evictedAt[name]; seen {
				continue
			}
			gone, err := evicted(t, client, ns, name)
			if err != nil {
				t.Fatal(err)
			}
			if gone {
				evictedAt[name] = time.Now()
			}
		}
		if len(evictedAt) >= 2 && time.Now().After(timeAdded.Add(3500*time.Millisecond)) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if at, ok := evictedAt["untolerated"]; !ok || at.Sub(tainted) > 1500*time.Millisecond {
		t.Errorf("untolerated pod: evicted %v after the taint was seen (%v), want promptly", at.Sub(tainted), ok)
	}
	if at, ok := evictedAt["two-seconds"]; !ok {
		t.Errorf("pod tolerating 2s was not evicted")
	} else if since := at.Sub(timeAdded); since < 2*time.Second || since > 3500*time.Millisecond {
		t.Errorf("pod tolerating 2s evicted %v after the taint was added", since)
	}
	for _, name := range []string{"forever", "bystander"} {
		if _, ok := evictedAt[name]; ok {
			t.Errorf("pod %s was evicted", name)
		}
	}

	p, err := getPod(t, client, ns, "untolerated")
	if err != nil {
		t.Fatal(err)
	}
	if c := podCondition(p, corev1.DisruptionTarget); c == nil || c.Status != corev1.ConditionTrue ||
		c.Reason != "DeletionByTaintManager" {
		t.Errorf("evicted pod's DisruptionTarget condition: %+v", c)
	}
	for _, name := range []string{"forever", "untolerated"} {
		p, err := getPod(t, client, ns, name)
		if err != nil {
			t.Fatal(err)
		}
		if c := podCondition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse {
			t.Errorf("pod %s on the silent node: Ready %+v, want False", name, c)
		}
	}
	if p, err := getPod(t, client, ns, "bystander"); err != nil || !isPodReady(p) {
		t.Errorf("pod on the healthy node: %v, not ready", err)
	}
	controllertest.Eventually(t, 5*time.Second, func() error {
		if err := hasEvent(t, client, ns, "Pod", "untolerated", "TaintManagerEviction", "Marking for deletion Pod "+ns+"/untolerated"); err != nil {
			return err
		}
		if err := hasEvent(t, client, ns, "Pod", "forever", "NodeNotReady", "Node is not ready"); err != nil {
			return err
		}
		return hasEvent(t, client, metav1.NamespaceDefault, "Node", "flaky", "NodeNotReady", "Node flaky status is now: NodeNotReady")
	})

	// Back: the lease is renewed and the kubelet posts Ready again.
	flaky.setAlive(true)
	flaky.post(corev1.NodeReady, corev1.ConditionTrue)
	flaky.post(corev1.NodeMemoryPressure, corev1.ConditionFalse)
	flaky.post(corev1.NodeDiskPressure, corev1.ConditionFalse)
	flaky.post(corev1.NodePIDPressure, corev1.ConditionFalse)
	controllertest.Eventually(t, 5*time.Second, func() error {
		n, err := getNode(t, client, "flaky")
		if err != nil {
			return err
		}
		if len(n.Spec.Taints) != 0 {
			return controllertest.Errorf("taints %v", n.Spec.Taints)
		}
		return nil
	})
	time.Sleep(2 * monitorPeriod)
	if gone, err := evicted(t, client, ns, "forever"); err != nil || gone {
		t.Errorf("pod tolerating forever: evicted %v (%v)", gone, err)
	}
}

// TestConditionTaints: Ready=False and Unknown, cordoning and pressure get
// their taints and lose them again, and a pod's scheduled eviction is
// cancelled with them; taints set by users are never touched, and their
// NoExecute taints evict too.
func TestConditionTaints(t *testing.T) {
	t.Parallel()
	client, ns := controllertest.Start(t)
	startKubelet(t, client, "steady")
	subject := startKubelet(t, client, "subject")
	userNoSchedule := corev1.Taint{Key: "example.com/dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	userPrefer := corev1.Taint{Key: "example.com/slow", Effect: corev1.TaintEffectPreferNoSchedule}
	userNoExecute := corev1.Taint{Key: "example.com/drain", Value: "now", Effect: corev1.TaintEffectNoExecute}
	updateNode(t, client, "subject", func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{userNoSchedule, userPrefer} })
	createPod(t, client, ns, "drained", "steady")
	thirty := int64(30) // and the API server's default 300s for unreachable
	createPod(t, client, ns, "patient", "subject", tolerate(notReady, &thirty))
	createPod(t, client, ns, "stays", "steady", corev1.Toleration{Key: "example.com/drain", Operator: corev1.TolerationOpExists})
	startController(t, client, nodelifecycle.Options{})

	// A user's NoExecute taint evicts what does not tolerate it.
	updateNode(t, client, "steady", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, userNoExecute) })
	controllertest.Eventually(t, 5*time.Second, func() error {
		if gone, err := evicted(t, client, ns, "drained"); err != nil || !gone {
			return controllertest.Errorf("pod not tolerating a user's NoExecute taint: evicted %v (%v)", gone, err)
		}
		return nil
	})

	// wantTaints waits until subject has exactly the user's taints and
	// want (key:effect).
	wantTaints := func(what string, want ...corev1.Taint) {
		t.Helper()
		controllertest.Eventually(t, gracePeriod+5*time.Second, func() error {
			n, err := getNode(t, client, "subject")
			if err != nil {
				return err
			}
			all := append([]corev1.Taint{userNoSchedule, userPrefer}, want...)
			if len(n.Spec.Taints) != len(all) {
				return controllertest.Errorf("%s: taints %v, want %v", what, n.Spec.Taints, all)
			}
			for _, w := range all {
				got := findTaint(n, w.Key, w.Effect)
				if got == nil || got.Value != w.Value {
					return controllertest.Errorf("%s: taints %v, want %v", what, n.Spec.Taints, all)
				}
				if w.Key != userNoSchedule.Key && w.Key != userPrefer.Key && got.TimeAdded == nil {
					return controllertest.Errorf("%s: taint %v has no timeAdded", what, got)
				}
			}
			return nil
		})
	}
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Effect: effect}
	}

	subject.post(corev1.NodeReady, corev1.ConditionFalse)
	wantTaints("Ready=False", taint(notReady, corev1.TaintEffectNoExecute), taint(notReady, corev1.TaintEffectNoSchedule))

	subject.setAlive(false)
	wantTaints("silent", taint(unreachable, corev1.TaintEffectNoExecute), taint(unreachable, corev1.TaintEffectNoSchedule))

	subject.setAlive(true)
	subject.post(corev1.NodeReady, corev1.ConditionTrue)
	subject.post(corev1.NodeMemoryPressure, corev1.ConditionFalse)
	subject.post(corev1.NodeDiskPressure, corev1.ConditionFalse)
	wantTaints("Ready again")
	controllertest.Eventually(t, 5*time.Second, func() error {
		return hasEvent(t, client, ns, "Pod", "patient", "TaintManagerEviction", "Cancelling deletion of Pod "+ns+"/patient")
	})

	updateNode(t, client, "subject", func(n *corev1.Node) { n.Spec.Unschedulable = true })
	wantTaints("cordoned", taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule))
	updateNode(t, client, "subject", func(n *corev1.Node) { n.Spec.Unschedulable = false })
	wantTaints("uncordoned")

	subject.post(corev1.NodeMemoryPressure, corev1.ConditionTrue)
	wantTaints("memory pressure", taint(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule))
	subject.post(corev1.NodeMemoryPressure, corev1.ConditionFalse)
	wantTaints("no memory pressure")

	n, err := getNode(t, client, "steady")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != userNoExecute.Key {
		t.Errorf("steady node's taints %v, want only the user's", n.Spec.Taints)
	}
	for _, name := range []string{"stays", "patient"} {
		if gone, err := evicted(t, client, ns, name); err != nil || gone {
			t.Errorf("pod %s: evicted %v (%v)", name, gone, err)
		}
	}
}

// TestNoNodeReady: when every node is down the controller suspects itself
// and taints nothing NoExecute; once a node is ready again, tainting
// resumes and the silent node's pods go.
func TestNoNodeReady(t *testing.T) {
	t.Parallel()
	client, ns := controllertest.Start(t)
	solo := startKubelet(t, client, "solo")
	createPod(t, client, ns, "untolerated", "solo", tolerateNothing(unreachable))
	startController(t, client, nodelifecycle.Options{})

	solo.setAlive(false)
	controllertest.Eventually(t, gracePeriod+5*time.Second, func() error {
		n, err := getNode(t, client, "solo")
		if err != nil {
			return err
		}
		if c := nodeCondition(n, corev1.NodeReady); c == nil || c.Status != corev1.ConditionUnknown {
			return controllertest.Errorf("Ready %+v", c)
		}
		if findTaint(n, unreachable, corev1.TaintEffectNoSchedule) == nil {
			return controllertest.Errorf("taints %v", n.Spec.Taints)
		}
		return nil
	})
	time.Sleep(time.Second)
	n, err := getNode(t, client, "solo")
	if err != nil {
		t.Fatal(err)
	}
	if findTaint(n, unreachable, corev1.TaintEffectNoExecute) != nil {
		t.Fatalf("the only node got a NoExecute taint: %v", n.Spec.Taints)
	}
	if gone, err := evicted(t, client, ns, "untolerated"); err != nil || gone {
		t.Fatalf("pod evicted while no node is ready: %v (%v)", gone, err)
	}

	startKubelet(t, client, "newcomer")
	controllertest.Eventually(t, gracePeriod+5*time.Second, func() error {
		if gone, err := evicted(t, client, ns, "untolerated"); err != nil || !gone {
			return controllertest.Errorf("pod on the silent node: evicted %v (%v)", gone, err)
		}
		return nil
	})
}

// TestNodeThatNeverPosted: a node with no status and no lease is marked
// Unknown as never updated after the startup grace period.
func TestNodeThatNeverPosted(t *testing.T) {
	t.Parallel()
	client, _ := controllertest.Start(t)
	startKubelet(t, client, "steady")
	mute, err := client.CoreV1().Nodes().Create(controllertest.Context(t),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "mute"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	startController(t, client, nodelifecycle.Options{NodeStartupGracePeriod: time.Second})
	controllertest.Eventually(t, 6*time.Second, func() error {
		n, err := getNode(t, client, "mute")
		if err != nil {
			return err
		}
		for _, typ := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			c := nodeCondition(n, typ)
			if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusNeverUpdated" ||
				c.Message != "Kubelet never posted node status." || !c.LastHeartbeatTime.Equal(&mute.CreationTimestamp) {
				return controllertest.Errorf("%s: %+v", typ, c)
			}
		}
		if findTaint(n, unreachable, corev1.TaintEffectNoSchedule) == nil || findTaint(n, unreachable, corev1.TaintEffectNoExecute) == nil {
			return controllertest.Errorf("taints %v", n.Spec.Taints)
		}
		return nil
	})
}

// updateNode applies change to node name, retrying on conflicts.
func updateNode(t *testing.T, client kubernetes.Interface, name string, change func(*corev1.Node)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := getNode(t, client, name)
		if err != nil {
			return err
		}
		change(n)
		_, err = client.CoreV1().Nodes().Update(controllertest.Context(t), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update node %s: %v", name, err)
	}
}

func isPodReady(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}
