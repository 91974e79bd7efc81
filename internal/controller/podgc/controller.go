// Package podgc is skiff's pod garbage collector. Every Interval it
// deletes (a) terminated pods (phase Succeeded or Failed) beyond
// TerminatedPodThreshold, oldest first; (b) pods bound to a node that no
// longer exists, forcibly (grace period 0), since no kubelet will ever
// finish them; (c) terminating pods bound to no node, forcibly, for the
// same reason.
package podgc

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Name is the controller's name in logs.
const Name = "podgc-controller"

// Defaults for Options.
const (
	DefaultTerminatedPodThreshold = 12500
	DefaultInterval               = 20 * time.Second
)

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// TerminatedPodThreshold is how many terminated pods may remain;
	// default 12500, negative disables (a).
	TerminatedPodThreshold int
	// Interval between collections; default 20s.
	Interval time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Controller collects pods nothing else will clean up.
type Controller struct {
	client     kubernetes.Interface
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	log        *slog.Logger
	threshold  int
	interval   time.Duration
}

// New returns a pod garbage collector reading pods and nodes from the
// given informers. The caller starts the informer factory; Start waits for
// the caches.
func New(ctx context.Context, client kubernetes.Interface, podInformer coreinformers.PodInformer,
	nodeInformer coreinformers.NodeInformer, opts Options) (*Controller, error) {
	c := &Controller{
		client:     client,
		podLister:  podInformer.Lister(),
		nodeLister: nodeInformer.Lister(),
		synced:     []cache.InformerSynced{podInformer.Informer().HasSynced, nodeInformer.Informer().HasSynced},
		log:        opts.Logger,
		threshold:  opts.TerminatedPodThreshold,
		interval:   opts.Interval,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.threshold == 0 {
		c.threshold = DefaultTerminatedPodThreshold
	}
	if c.interval <= 0 {
		c.interval = DefaultInterval
	}
	return c, nil
}

// Start collects every Interval until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	c.log.Info("starting controller", "interval", c.interval, "terminatedPodThreshold", c.threshold)
	defer c.log.Info("stopped controller")
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", Name)
	}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for {
		c.collect(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// collect runs one pass; failures are logged and retried next pass.
func (c *Controller) collect(ctx context.Context) {
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		c.log.Error("list pods", "err", err)
		return
	}
	c.collectTerminated(ctx, pods)
	c.collectOrphaned(ctx, pods)
	c.collectUnscheduledTerminating(ctx, pods)
}

// collectTerminated deletes the oldest terminated pods beyond the
// threshold. Pods already being deleted are not counted.
func (c *Controller) collectTerminated(ctx context.Context, pods []*corev1.Pod) {
	if c.threshold < 0 {
		return
	}
	var done []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			done = append(done, p)
		}
	}
	excess := len(done) - c.threshold
	if excess <= 0 {
		return
	}
	sort.SliceStable(done, func(i, j int) bool {
		ti, tj := done[i].CreationTimestamp, done[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		if done[i].Namespace != done[j].Namespace {
			return done[i].Namespace < done[j].Namespace
		}
		return done[i].Name < done[j].Name
	})
	c.log.Info("deleting terminated pods over the threshold", "count", excess, "threshold", c.threshold)
	for _, p := range done[:excess] {
		if ctx.Err() != nil {
			return
		}
		c.forceDelete(ctx, p, "terminated pod over the threshold")
	}
}

// collectOrphaned deletes pods bound to a node that no longer exists. A
// node missing from the cache is confirmed live before its pods go.
func (c *Controller) collectOrphaned(ctx context.Context, pods []*corev1.Pod) {
	gone := map[string]bool{}
	for _, p := range pods {
		node := p.Spec.NodeName
		if node == "" || ctx.Err() != nil {
			continue
		}
		missing, checked := gone[node]
		if !checked {
			missing = c.nodeGone(ctx, node)
			gone[node] = missing
		}
		if missing {
			c.forceDelete(ctx, p, "pod bound to a deleted node")
		}
	}
}

func (c *Controller) nodeGone(ctx context.Context, name string) bool {
	if _, err := c.nodeLister.Get(name); err == nil || !apierrors.IsNotFound(err) {
		return false
	}
	_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.log.Info("cannot check node, keeping its pods", "node", name, "err", err)
	}
	return apierrors.IsNotFound(err)
}

// collectUnscheduledTerminating deletes terminating pods no kubelet will
// finish since they are bound to no node.
func (c *Controller) collectUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) {
	for _, p := range pods {
		if ctx.Err() != nil {
			return
		}
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			c.forceDelete(ctx, p, "terminating pod bound to no node")
		}
	}
}

// forceDelete deletes p with grace period 0, only if it is still the same
// pod.
func (c *Controller) forceDelete(ctx context.Context, p *corev1.Pod, why string) {
	zero := int64(0)
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &p.UID},
	})
	switch {
	case err == nil:
		c.log.Info("deleted pod", "pod", p.Namespace+"/"+p.Name, "reason", why)
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
	default:
		c.log.Info("delete pod failed, retrying next pass", "pod", p.Namespace+"/"+p.Name, "err", err)
	}
}
