// Package podgc is skiff's pod garbage collector. Every Interval it
// deletes (a) terminated pods (phase Succeeded or Failed) beyond
// TerminatedPodThreshold, oldest first; (b) pods bound to a node that no
// longer exists, forcibly (grace period 0), since no kubelet will ever
// finish them; (c) terminating pods bound to no node, forcibly, for the
// same reason; (d) terminating pods on a node that is not Ready and
// carries the node.kubernetes.io/out-of-service taint, forcibly: an
// administrator's word that the node is down for good, so its pods (a
// StatefulSet's, say) may start elsewhere.
//
// As upstream's PodGC: a node is taken as gone only once it has been
// missing from the node cache for Quarantine (40 s) and a GET confirms it,
// so a pod bound to a node that is still registering, or that the cache
// has not caught up with, survives; a pod the collector deletes that has
// not terminated is first marked Failed (an orphan also gets the
// DisruptionTarget condition, reason DeletionByPodGC), so watchers such
// as Job controllers see why it went.
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

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs.
const Name = "podgc-controller"

// Defaults for Options.
const (
	DefaultTerminatedPodThreshold = 12500
	DefaultInterval               = 20 * time.Second
	DefaultQuarantine             = 40 * time.Second
)

// ReasonDeletionByPodGC is the DisruptionTarget condition's reason on a
// pod the collector deletes because its node is gone.
const ReasonDeletionByPodGC = "DeletionByPodGC"

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// TerminatedPodThreshold is how many terminated pods may remain;
	// default 12500, negative disables (a).
	TerminatedPodThreshold int
	// Interval between collections; default 20s.
	Interval time.Duration
	// Quarantine is how long a node must be missing from the node cache
	// before its pods are collected; default 40s.
	Quarantine time.Duration
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
	quarantine time.Duration
	now        func() time.Time

	// missingSince holds, for each node some pod is bound to but the node
	// cache lacks, when a pass first found it missing. Only collect's
	// goroutine touches it.
	missingSince map[string]time.Time
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
		quarantine: opts.Quarantine,
		now:        time.Now,

		missingSince: map[string]time.Time{},
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
	if c.quarantine <= 0 {
		c.quarantine = DefaultQuarantine
	}
	return c, nil
}

// Start collects every Interval until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	c.log.Info("starting controller", "interval", c.interval, "quarantine", c.quarantine, "terminatedPodThreshold", c.threshold)
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
	c.collectOutOfService(ctx, pods)
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
		c.failAndDelete(ctx, p, nil, "terminated pod over the threshold")
	}
}

// collectOutOfService deletes the terminating pods of nodes that are not
// Ready and are tainted out of service.
func (c *Controller) collectOutOfService(ctx context.Context, pods []*corev1.Pod) {
	outOfService := map[string]bool{}
	for _, p := range pods {
		if ctx.Err() != nil {
			return
		}
		if p.DeletionTimestamp == nil || p.Spec.NodeName == "" ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		oos, seen := outOfService[p.Spec.NodeName]
		if !seen {
			if n, err := c.nodeLister.Get(p.Spec.NodeName); err == nil {
				oos = !controllerutil.IsNodeReady(n) && hasTaint(n, corev1.TaintNodeOutOfService)
			}
			outOfService[p.Spec.NodeName] = oos
		}
		if oos {
			c.failAndDelete(ctx, p, nil, "terminating pod on an out-of-service node")
		}
	}
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// collectOrphaned deletes pods bound to a node that no longer exists. A
// node missing from the cache is quarantined first: only once it has been
// missing for the quarantine, and a GET confirms it, do its pods go.
func (c *Controller) collectOrphaned(ctx context.Context, pods []*corev1.Pod) {
	now := c.now()
	missing := map[string]bool{}
	for _, p := range pods {
		node := p.Spec.NodeName
		if node == "" {
			continue
		}
		if _, seen := missing[node]; seen {
			continue
		}
		_, err := c.nodeLister.Get(node)
		missing[node] = apierrors.IsNotFound(err)
		if _, queued := c.missingSince[node]; missing[node] && !queued {
			c.missingSince[node] = now
		}
	}
	gone := map[string]bool{}
	for node, since := range c.missingSince {
		switch {
		case !missing[node]:
			// Back in the cache, or no pod is bound to it any more.
			delete(c.missingSince, node)
		case now.Sub(since) >= c.quarantine && ctx.Err() == nil:
			if c.nodeGone(ctx, node) {
				gone[node] = true
			} else {
				delete(c.missingSince, node)
			}
		}
	}
	if len(gone) == 0 {
		return
	}
	for _, p := range pods {
		if ctx.Err() != nil {
			return
		}
		if gone[p.Spec.NodeName] {
			c.failAndDelete(ctx, p, &corev1.PodCondition{
				Type:    corev1.DisruptionTarget,
				Status:  corev1.ConditionTrue,
				Reason:  ReasonDeletionByPodGC,
				Message: "PodGC: node no longer exists",
			}, "pod bound to a deleted node")
		}
	}
}

// nodeGone asks the API server whether a node the cache lacks is really
// gone; any error other than NotFound keeps its pods.
func (c *Controller) nodeGone(ctx context.Context, name string) bool {
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
			c.failAndDelete(ctx, p, nil, "terminating pod bound to no node")
		}
	}
}

// failAndDelete deletes p with grace period 0, only if it is still the
// same pod. A pod that has not terminated is first marked Failed, with
// cond if given, since no kubelet will report its end; if that write
// loses a race the pod is left for the next pass.
func (c *Controller) failAndDelete(ctx context.Context, p *corev1.Pod, cond *corev1.PodCondition, why string) {
	name := p.Namespace + "/" + p.Name
	if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		failed := p.DeepCopy()
		failed.Status.Phase = corev1.PodFailed
		if cond != nil {
			cond := *cond
			cond.LastTransitionTime = metav1.NewTime(c.now())
			controllerutil.SetPodCondition(&failed.Status, cond)
		}
		_, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, failed, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return
		case err != nil:
			c.log.Info("mark pod failed before deleting it, retrying next pass", "pod", name, "err", err)
			return
		}
	}
	zero := int64(0)
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &p.UID},
	})
	switch {
	case err == nil:
		c.log.Info("deleted pod", "pod", name, "reason", why)
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
	default:
		c.log.Info("delete pod failed, retrying next pass", "pod", name, "err", err)
	}
}
