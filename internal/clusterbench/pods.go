package clusterbench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// PodResult is the startup latency of stateless pods.
type PodResult struct {
	Image string  `json:"image"`
	Rate  float64 `json:"rate_per_second"`
	// Startup runs from the create call to the pod seen on a watch with
	// every container running: the pod startup SLI.
	Startup Summary `json:"startup"`
	// Scheduled runs from the create call to the pod seen bound to a node.
	Scheduled Summary `json:"scheduled"`
	// WarmedNodes had the image pulled before the measurement (the SLI
	// excludes image pulling).
	WarmedNodes int `json:"warmed_nodes"`
}

// podLabel marks the pods of a measurement.
const podLabel = "skiff-bench"

// podStartup creates o.Pods pods of o.Image in ns at o.PodRate per second
// and measures how long each takes to be scheduled and to run, as seen on
// a watch. Beforehand one pod per node (up to o.Pods nodes) pulls the
// image, so the figures exclude pulling as the SLI does.
func podStartup(ctx context.Context, cs kubernetes.Interface, ns string, all []corev1.Node, o Options) (*PodResult, error) {
	nodes := schedulableNodes(all)
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no Ready node accepts pods (none is Ready, schedulable and free of NoSchedule taints); run with --pods 0 to measure the API only")
	}
	if err := waitServiceAccount(ctx, cs, ns, o.Timeout); err != nil {
		return nil, err
	}
	res := &PodResult{Image: o.Image, Rate: o.PodRate, WarmedNodes: min(len(nodes), o.Pods)}
	o.logf("pulling %s on %d node(s)", o.Image, res.WarmedNodes)
	if err := warm(ctx, cs, ns, nodes[:res.WarmedNodes], o); err != nil {
		return nil, err
	}

	pods := cs.CoreV1().Pods(ns)
	sel := podLabel + "=startup"
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = sel
			return pods.Watch(ctx, opts)
		},
	})
	if err != nil {
		return nil, err
	}
	defer w.Stop()

	// A pod waits in toSchedule and toRun, under its create call's time,
	// until the watch shows it bound and running.
	var mu sync.Mutex
	toSchedule, toRun := map[string]time.Time{}, map[string]time.Time{}
	var scheduled, running []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			if t0, ok := toSchedule[p.Name]; ok && p.Spec.NodeName != "" {
				scheduled = append(scheduled, now.Sub(t0))
				delete(toSchedule, p.Name)
			}
			if t0, ok := toRun[p.Name]; ok && allRunning(p) {
				running = append(running, now.Sub(t0))
				delete(toRun, p.Name)
			}
			all := len(running) == o.Pods
			mu.Unlock()
			if all {
				return
			}
		}
	}()

	o.logf("creating %d pods at %g/s", o.Pods, o.PodRate)
	interval := time.Duration(float64(time.Second) / o.PodRate)
	next := time.Now()
	for i := 0; i < o.Pods; i++ {
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		next = next.Add(interval)
		p := benchPod("startup-"+strconv.Itoa(i), "startup", o.Image)
		mu.Lock()
		t0 := time.Now()
		toSchedule[p.Name], toRun[p.Name] = t0, t0
		mu.Unlock()
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("creating pod %s: %w", p.Name, err)
		}
	}

	select {
	case <-done:
	case <-time.After(o.Timeout):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(running) < o.Pods {
		return nil, fmt.Errorf("%d of %d pods running after %v; %s", len(running), o.Pods, o.Timeout, pendingPod(ctx, cs, ns, sel))
	}
	res.Startup = Summarize(running, 0)
	res.Scheduled = Summarize(scheduled, 0)
	return res, nil
}

// benchPod is a pod of one container that does nothing, labelled role.
// It meets the "restricted" Pod Security Standard, so clusters that
// enforce it admit the pod too.
func benchPod(name, role, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{podLabel: role}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				}}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65535),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			AutomountServiceAccountToken:  ptr.To(false),
		},
	}
}

// allRunning reports whether the pod runs and every container of it has
// started.
func allRunning(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) < len(p.Spec.Containers) {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

// schedulableNodes are the nodes a pod without tolerations can run on:
// Ready, not cordoned, without NoSchedule or NoExecute taints.
func schedulableNodes(nodes []corev1.Node) []string {
	var names []string
	for i, n := range nodes {
		if n.Spec.Unschedulable || !controllerutil.IsNodeReady(&nodes[i]) {
			continue
		}
		tainted := false
		for _, t := range n.Spec.Taints {
			tainted = tainted || t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
		}
		if !tainted {
			names = append(names, n.Name)
		}
	}
	return names
}

// poll calls cond every interval until it is done or fails, for at most
// timeout; it returns cond's error, ctx's when ctx ends, or errTimeout.
func poll(ctx context.Context, interval, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, cond)
	if err != nil && ctx.Err() == nil && wait.Interrupted(err) {
		return errTimeout
	}
	return err
}

var errTimeout = errors.New("timed out")

// waitServiceAccount waits for the namespace's default ServiceAccount,
// which admission requires of every pod.
func waitServiceAccount(ctx context.Context, cs kubernetes.Interface, ns string, timeout time.Duration) error {
	err := poll(ctx, 100*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("the default ServiceAccount of %s: %w", ns, err)
	}
	return nil
}

// warm runs one pod of the image on each node, bound there directly,
// waits for them to run and deletes them, so the measured pods find the
// image pulled.
func warm(ctx context.Context, cs kubernetes.Interface, ns string, nodes []string, o Options) error {
	pods := cs.CoreV1().Pods(ns)
	for i, n := range nodes {
		p := benchPod("warm-"+strconv.Itoa(i), "warm", o.Image)
		p.Spec.NodeName = n
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pod %s on node %s: %w", p.Name, n, err)
		}
	}
	sel := metav1.ListOptions{LabelSelector: podLabel + "=warm"}
	ready := 0
	err := poll(ctx, 200*time.Millisecond, o.Timeout, func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, sel)
		ready = 0
		for i := 0; err == nil && i < len(list.Items); i++ {
			if allRunning(&list.Items[i]) {
				ready++
			}
		}
		return ready == len(nodes), err
	})
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("pulling %s: %d of %d pods running after %v; %s", o.Image, ready, len(nodes), o.Timeout, pendingPod(ctx, cs, ns, sel.LabelSelector))
	}
	if err != nil {
		return err
	}
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, sel); err != nil {
		return err
	}
	// The measured pods start on nodes that are not stopping containers.
	err = poll(ctx, 200*time.Millisecond, o.Timeout, func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, sel)
		return err == nil && len(list.Items) == 0, err
	})
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("the pods that pulled %s are not gone after %v", o.Image, o.Timeout)
	}
	return err
}

// pendingPod describes one pod of sel that is not running, for an error
// message.
func pendingPod(ctx context.Context, cs kubernetes.Interface, ns, sel string) string {
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "listing them: " + err.Error()
	}
	for _, p := range list.Items {
		if allRunning(&p) {
			continue
		}
		s := fmt.Sprintf("pod %s: phase %s", p.Name, p.Status.Phase)
		if p.Spec.NodeName == "" {
			s += ", not scheduled"
		}
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				s += fmt.Sprintf(", %s: %s", c.Type, c.Message)
			}
		}
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Waiting != nil {
				s += fmt.Sprintf(", container %s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message)
			}
		}
		return s
	}
	return "no pending pod found"
}
