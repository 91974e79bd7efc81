package nodelifecycle_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
)

// Test timings: short enough to keep the package fast, long enough that a
// loaded machine does not make healthy nodes look silent.
const (
	monitorPeriod = 200 * time.Millisecond
	gracePeriod   = 2 * time.Second
	renewPeriod   = 250 * time.Millisecond
)

// startController runs the controller against client until the test ends,
// with short periods and no eviction rate limit unless opts says
// otherwise.
func startController(t *testing.T, client kubernetes.Interface, opts nodelifecycle.Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if opts.NodeMonitorPeriod == 0 {
		opts.NodeMonitorPeriod = monitorPeriod
	}
	if opts.NodeMonitorGracePeriod == 0 {
		opts.NodeMonitorGracePeriod = gracePeriod
	}
	if opts.NodeStartupGracePeriod == 0 {
		opts.NodeStartupGracePeriod = gracePeriod
	}
	if opts.NodeEvictionRate == 0 {
		opts.NodeEvictionRate = 1000
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := nodelifecycle.New(ctx, client, f.Core().V1().Nodes(), f.Core().V1().Pods(),
		f.Coordination().V1().Leases(), opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
		f.Shutdown()
	})
}

// kubelet stands in for a node's kubelet: it registers the node, renews
// its lease while alive and posts the conditions it is told to.
type kubelet struct {
	t      *testing.T
	client kubernetes.Interface
	name   string
	mu     sync.Mutex
	alive  bool
}

// startKubelet registers node name with Ready True and no pressure (no
// PIDPressure condition at all), and renews its lease until the test
// ends or stop is called.
func startKubelet(t *testing.T, client kubernetes.Interface, name string) *kubelet {
	t.Helper()
	ctx := controllertest.Context(t)
	now := metav1.Now()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
	}}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	k := &kubelet{t: t, client: client, name: name, alive: true}
	k.renew(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(renewPeriod)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				k.renew(ctx)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return k
}

// renew creates or renews the node's lease if the kubelet is alive.
func (k *kubelet) renew(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.alive || ctx.Err() != nil {
		return
	}
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, k.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		secs := int32(40)
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: k.name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &k.name, LeaseDurationSeconds: &secs, RenewTime: &now}}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
	} else if err == nil {
		l.Spec.RenewTime = &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil && ctx.Err() == nil {
		k.t.Logf("renew lease of %s: %v", k.name, err)
	}
}

// setAlive stops or resumes the lease renewals.
func (k *kubelet) setAlive(alive bool) {
	k.mu.Lock()
	k.alive = alive
	k.mu.Unlock()
}

// post sets the node's condition typ to status, with a fresh heartbeat,
// as a kubelet posting its status does.
func (k *kubelet) post(typ corev1.NodeConditionType, status corev1.ConditionStatus) {
	k.t.Helper()
	ctx := controllertest.Context(k.t)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := k.client.CoreV1().Nodes().Get(ctx, k.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		found := false
		for i := range n.Status.Conditions {
			c := &n.Status.Conditions[i]
			if c.Type == typ {
				found = true
				if c.Status != status {
					c.LastTransitionTime = now
				}
				c.Status, c.Reason, c.Message = status, "Kubelet"+string(typ)+string(status), ""
			}
			c.LastHeartbeatTime = now
		}
		if !found {
			n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: typ, Status: status,
				LastHeartbeatTime: now, LastTransitionTime: now})
		}
		_, err = k.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		k.t.Fatalf("post %s=%s on %s: %v", typ, status, k.name, err)
	}
}

// createPod creates a pod bound to node, reported Running and Ready.
func createPod(t *testing.T, client kubernetes.Interface, ns, name, node string, tolerations ...corev1.Toleration) *corev1.Pod {
	t.Helper()
	ctx := controllertest.Context(t)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{NodeName: node, Tolerations: tolerations,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	p, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, Reason: "", LastTransitionTime: now},
	}
	p, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("set pod %s running: %v", name, err)
	}
	return p
}

// tolerate is a toleration of key's NoExecute taint for secs seconds
// (forever when secs is nil).
func tolerate(key string, secs *int64) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
}

// tolerateNothing is a toleration for another value of key: the API
// server then adds no default toleration of key's NoExecute taint, and
// the pod tolerates none.
func tolerateNothing(key string) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpEqual, Value: "no-such-value", Effect: corev1.TaintEffectNoExecute}
}

func getNode(t *testing.T, client kubernetes.Interface, name string) (*corev1.Node, error) {
	return client.CoreV1().Nodes().Get(controllertest.Context(t), name, metav1.GetOptions{})
}

func getPod(t *testing.T, client kubernetes.Interface, ns, name string) (*corev1.Pod, error) {
	return client.CoreV1().Pods(ns).Get(controllertest.Context(t), name, metav1.GetOptions{})
}

func nodeCondition(n *corev1.Node, typ corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == typ {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func podCondition(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// findTaint returns node's taint with key and effect, or nil.
func findTaint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i := range n.Spec.Taints {
		if n.Spec.Taints[i].Key == key && n.Spec.Taints[i].Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

// evicted reports whether the pod is gone or being deleted.
func evicted(t *testing.T, client kubernetes.Interface, ns, name string) (bool, error) {
	p, err := getPod(t, client, ns, name)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return p.DeletionTimestamp != nil, nil
}

// hasEvent reports whether an event with reason and message exists for
// the object named name.
func hasEvent(t *testing.T, client kubernetes.Interface, ns, kind, name, reason, message string) error {
	evs, err := client.CoreV1().Events(ns).List(controllertest.Context(t), metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name && e.Reason == reason && e.Message == message {
			return nil
		}
	}
	return controllertest.Errorf("no %s event %q for %s %s among %d", reason, message, kind, name, len(evs.Items))
}
