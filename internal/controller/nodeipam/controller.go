// Package nodeipam is skiff's node IPAM controller: it gives every node
// without spec.podCIDR the lowest free subnet of the cluster CIDR, setting
// spec.podCIDR and spec.podCIDRs with a patch, and frees a node's subnet
// when the node is deleted. Its allocation state lives in the Node
// objects: Start rebuilds it from their podCIDRs before handing anything
// out, so a restart never reassigns a subnet in use. A node that already
// has a podCIDR keeps it (the API server makes it immutable). When the
// range is full the node gets a CIDRNotAvailable event and waits until a
// subnet is freed. Single-stack only: one CIDR per node.
package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the controller's name in logs, events and queue metrics.
const Name = "nodeipam-controller"

// Defaults for Options.
const (
	DefaultClusterCIDR  = "10.42.0.0/16"
	DefaultNodeMaskSize = 24
)

// EventCIDRNotAvailable is the reason of the warning event a node gets
// when the cluster CIDR has no free subnet left for it.
const EventCIDRNotAvailable = "CIDRNotAvailable"

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// ClusterCIDR the node subnets are cut from; default 10.42.0.0/16.
	ClusterCIDR *net.IPNet
	// NodeMaskSize is the prefix length of each node's subnet; default 24.
	NodeMaskSize int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Recorder for events; default one writing through the client.
	Recorder record.EventRecorder
}

// Controller assigns pod CIDRs to nodes. It runs a single worker.
type Controller struct {
	client     kubernetes.Interface
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	log        *slog.Logger
	recorder   record.EventRecorder
	cidrs      *cidrSet

	// patched holds, per node name, the subnet this controller assigned
	// (or is assigning) but has not yet seen in the cache, so a sync on a
	// stale cache repeats the same patch instead of allocating again.
	mu      sync.Mutex
	patched map[string]assignment
}

type assignment struct {
	uid  types.UID
	cidr string
}

// New returns a controller fed by nodeInformer; its queue holds node
// names. The caller starts the informer factory; Start waits for the
// cache and rebuilds the allocations from it before assigning anything.
func New(ctx context.Context, client kubernetes.Interface, nodeInformer coreinformers.NodeInformer, opts Options) (*Controller, error) {
	cluster := opts.ClusterCIDR
	if cluster == nil {
		_, cluster, _ = net.ParseCIDR(DefaultClusterCIDR)
	}
	mask := opts.NodeMaskSize
	if mask == 0 {
		mask = DefaultNodeMaskSize
	}
	set, err := newCIDRSet(cluster, mask)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	c := &Controller{
		client:     client,
		nodeLister: nodeInformer.Lister(),
		synced:     []cache.InformerSynced{nodeInformer.Informer().HasSynced},
		queue:      controllerutil.NewQueue(Name),
		log:        opts.Logger,
		recorder:   opts.Recorder,
		cidrs:      set,
		patched:    map[string]assignment{},
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", Name)
	if c.recorder == nil {
		c.recorder = controllerutil.NewRecorder(ctx, client, Name)
	}
	if _, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addNode,
		UpdateFunc: c.updateNode,
		DeleteFunc: c.deleteNode,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Start runs the controller until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		c.queue.ShutDown()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", Name)
	}
	if err := c.rebuild(); err != nil {
		c.queue.ShutDown()
		return err
	}
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, 1, c.sync, c.synced...)
}

// rebuild marks the subnets the cached nodes hold as used.
func (c *Controller) rebuild() error {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, n := range nodes {
		c.occupy(n)
	}
	c.log.Info("rebuilt pod CIDR allocations", "nodes", len(nodes), "used", c.cidrs.used())
	return nil
}

func (c *Controller) addNode(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.queue.Add(n.Name)
	}
}

func (c *Controller) updateNode(old, cur any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	if len(podCIDRs(n)) == 0 || !slices.Equal(podCIDRs(o), podCIDRs(n)) {
		c.queue.Add(n.Name)
	}
}

// deleteNode frees the deleted node's subnet and, since one is now free,
// requeues every node still waiting for one.
func (c *Controller) deleteNode(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	freed := false
	for _, cidr := range podCIDRs(n) {
		freed = c.cidrs.release(cidr, string(n.UID)) || freed
	}
	c.mu.Lock()
	if a, ok := c.patched[n.Name]; ok && a.uid == n.UID {
		delete(c.patched, n.Name)
		freed = c.cidrs.release(a.cidr, string(n.UID)) || freed
	}
	c.mu.Unlock()
	if !freed {
		return
	}
	c.log.Debug("released pod CIDR of deleted node", "node", n.Name)
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, w := range nodes {
		if len(podCIDRs(w)) == 0 {
			c.queue.Add(w.Name)
		}
	}
}

// sync gives node name a subnet if it has none.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(podCIDRs(node)) > 0 {
		c.occupy(node)
		c.forget(node.Name, node.UID)
		return nil
	}

	cidr := c.pending(node.Name, node.UID)
	if cidr == "" {
		n, ok := c.cidrs.allocate(string(node.UID))
		if !ok {
			c.log.Warn("no pod CIDR available", "node", name)
			c.recorder.Eventf(node, corev1.EventTypeWarning, EventCIDRNotAvailable,
				"Node %s: no CIDR available in the cluster CIDR to allocate", name)
			return nil // requeued when a node is deleted
		}
		cidr = n.String()
		c.mu.Lock()
		c.patched[node.Name] = assignment{uid: node.UID, cidr: cidr}
		c.mu.Unlock()
	}

	perr := c.patch(ctx, node, cidr)
	if perr == nil {
		c.log.Info("assigned pod CIDR", "node", name, "podCIDR", cidr)
		return nil
	}
	// The patch failed, or maybe only its answer was lost: look at the
	// node before deciding whether the subnet is free again.
	live, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || (err == nil && live.UID != node.UID):
		c.drop(node.Name, node.UID, cidr)
		return nil // gone; a node that replaced it gets its own event
	case err != nil:
		return fmt.Errorf("patch node %s: %w (and get: %v)", name, perr, err)
	case slices.Contains(podCIDRs(live), cidr):
		return nil // it did go through
	}
	c.drop(node.Name, node.UID, cidr)
	if len(podCIDRs(live)) > 0 {
		c.occupy(live)
		return nil // someone else set it meanwhile
	}
	return fmt.Errorf("patch node %s: %w", name, perr)
}

// patch sets the node's pod CIDRs; the uid makes it fail if the node was
// replaced by another of the same name.
func (c *Controller) patch(ctx context.Context, node *corev1.Node, cidr string) error {
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": node.UID},
		"spec":     map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}},
	})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, body, metav1.PatchOptions{})
	return err
}

// occupy marks the node's pod CIDRs as used by it.
func (c *Controller) occupy(n *corev1.Node) {
	for _, cidr := range podCIDRs(n) {
		holder, ok := c.cidrs.occupy(cidr, string(n.UID))
		switch {
		case !ok:
			c.log.Debug("node pod CIDR outside the cluster CIDR", "node", n.Name, "podCIDR", cidr)
		case holder != string(n.UID):
			c.log.Warn("node pod CIDR already held by another node", "node", n.Name, "podCIDR", cidr)
		}
	}
}

// pending is the subnet assigned to this node but not yet in the cache.
func (c *Controller) pending(name string, uid types.UID) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.patched[name]; ok && a.uid == uid {
		return a.cidr
	}
	return ""
}

// forget drops the pending assignment of this node: the cache has caught
// up.
func (c *Controller) forget(name string, uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.patched[name]; ok && a.uid == uid {
		delete(c.patched, name)
	}
}

// drop undoes a failed assignment: the subnet is free again.
func (c *Controller) drop(name string, uid types.UID, cidr string) {
	c.forget(name, uid)
	c.cidrs.release(cidr, string(uid))
}

// podCIDRs is the node's pod CIDRs, spec.podCIDR if podCIDRs is unset.
func podCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}
