package nodelifecycle

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/flowcontrol"
)

// zoneState is how healthy a zone's nodes are, which decides how fast its
// not-ready nodes get NoExecute taints.
type zoneState int

const (
	zoneInitial zoneState = iota
	zoneNormal
	// zonePartialDisruption: most of the zone (and at least three nodes)
	// is not ready; tainting slows down or stops.
	zonePartialDisruption
	// zoneFullDisruption: no node of the zone is ready. When that holds
	// for every zone, the controller's own view is the likely fault, and
	// nothing is tainted NoExecute.
	zoneFullDisruption
)

func (s zoneState) String() string {
	return [...]string{"Initial", "Normal", "PartialDisruption", "FullDisruption"}[s]
}

// excludeDisruptionLabel keeps a node out of the zone health counts, as
// upstream.
const excludeDisruptionLabel = "node.kubernetes.io/exclude-disruption"

// zoneKey names node's zone by its region and zone labels; nodes without
// them share the "" zone.
func zoneKey(node *corev1.Node) string {
	region, zone := node.Labels[corev1.LabelTopologyRegion], node.Labels[corev1.LabelTopologyZone]
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// computeZoneState classifies a zone by the Ready statuses of its nodes
// ("" for a node without one, which counts as not ready).
func computeZoneState(statuses []corev1.ConditionStatus, unhealthyThreshold float64) zoneState {
	ready, notReady := 0, 0
	for _, s := range statuses {
		if s == corev1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return zoneFullDisruption
	case notReady > 2 && float64(notReady)/float64(ready+notReady) >= unhealthyThreshold:
		return zonePartialDisruption
	}
	return zoneNormal
}

// evictionRate is how many nodes per second a zone in state s with size
// nodes may have tainted NoExecute.
func (o *Options) evictionRate(s zoneState, size int) float64 {
	if s == zonePartialDisruption {
		if size > o.LargeClusterSizeThreshold {
			return o.SecondaryNodeEvictionRate
		}
		return 0
	}
	return o.NodeEvictionRate
}

// zoneTainter queues a zone's nodes that are due a NoExecute taint and lets
// them through at the zone's rate. Owned by the monitor loop.
type zoneTainter struct {
	queue   []string
	queued  map[string]bool
	limiter flowcontrol.PassiveRateLimiter // nil: none pass
}

func newZoneTainter() *zoneTainter { return &zoneTainter{queued: map[string]bool{}} }

// setRate replaces the limiter; a fresh bucket lets one node through at
// once.
func (t *zoneTainter) setRate(qps float64) {
	t.limiter = nil
	if qps > 0 {
		t.limiter = flowcontrol.NewTokenBucketPassiveRateLimiter(float32(qps), 1)
	}
}

func (t *zoneTainter) add(node string) {
	if !t.queued[node] {
		t.queued[node] = true
		t.queue = append(t.queue, node)
	}
}

func (t *zoneTainter) remove(node string) {
	if !t.queued[node] {
		return
	}
	delete(t.queued, node)
	for i, n := range t.queue {
		if n == node {
			t.queue = append(t.queue[:i], t.queue[i+1:]...)
			break
		}
	}
}

// next pops the first queued node if the rate allows one now.
func (t *zoneTainter) next() (string, bool) {
	if len(t.queue) == 0 || t.limiter == nil || !t.limiter.TryAccept() {
		return "", false
	}
	n := t.queue[0]
	t.queue = t.queue[1:]
	delete(t.queued, n)
	return n, true
}

func (c *Controller) tainterFor(zone string) *zoneTainter {
	t, ok := c.tainters[zone]
	if !ok {
		t = newZoneTainter()
		c.tainters[zone] = t
	}
	return t
}

// handleDisruption updates the zone states from this pass's Ready
// statuses and sets the zones' tainting rates. When every zone becomes
// fully disrupted it removes all NoExecute node-controller taints and
// stops tainting; when that ends, every node gets a fresh grace period.
func (c *Controller) handleDisruption(ctx context.Context, zones map[string][]corev1.ConditionStatus, nodes []*corev1.Node) {
	next := map[string]zoneState{}
	allNow := true
	for zone, statuses := range zones {
		next[zone] = computeZoneState(statuses, c.opts.UnhealthyZoneThreshold)
		allNow = allNow && next[zone] == zoneFullDisruption
		if _, ok := c.zoneStates[zone]; !ok {
			c.zoneStates[zone] = zoneInitial
		}
	}
	allBefore := true
	for zone, s := range c.zoneStates {
		if _, ok := zones[zone]; !ok {
			delete(c.zoneStates, zone)
			delete(c.tainters, zone)
			continue
		}
		allBefore = allBefore && s == zoneFullDisruption
	}
	switch {
	case allNow && allBefore:
		return
	case allNow:
		c.log.Warn("no node is ready: stopping NoExecute tainting and removing those taints until one is")
		for _, n := range nodes {
			if err := c.updateTaints(ctx, n, swapTaints(nil, notReadyNoExecute, unreachableNoExecute)); err != nil {
				c.log.Info("removing NoExecute taint failed", "node", n.Name, "err", err)
			}
		}
		for zone := range c.zoneStates {
			c.tainterFor(zone).setRate(0)
			c.zoneStates[zone] = zoneFullDisruption
		}
		return
	case allBefore:
		c.log.Info("some nodes are ready again: resuming NoExecute tainting")
		now := c.now()
		for _, h := range c.health {
			h.probeTime = now
		}
		for zone := range c.zoneStates {
			c.zoneStates[zone] = zoneInitial // so every zone's rate is set below
		}
	}
	for zone, s := range c.zoneStates {
		if s == next[zone] {
			continue
		}
		if s != zoneInitial {
			c.log.Info("zone state changed", "zone", zone, "from", s, "to", next[zone])
		}
		c.tainterFor(zone).setRate(c.opts.evictionRate(next[zone], len(zones[zone])))
		c.zoneStates[zone] = next[zone]
	}
}

// reconcileNoExecute brings node's NoExecute node-controller taints in
// line with its Ready condition: gone when it is True; swapped at once
// when it moved between False and Unknown; otherwise queued in its zone,
// to be added at the zone's rate.
func (c *Controller) reconcileNoExecute(ctx context.Context, node *corev1.Node, ready *corev1.NodeCondition) error {
	tainter := c.tainterFor(zoneKey(node))
	taints := node.Spec.Taints
	switch ready.Status {
	case corev1.ConditionTrue:
		tainter.remove(node.Name)
		if hasTaint(taints, notReadyNoExecute) || hasTaint(taints, unreachableNoExecute) {
			return c.updateTaints(ctx, node, swapTaints(nil, notReadyNoExecute, unreachableNoExecute))
		}
	case corev1.ConditionFalse:
		return c.swapOrQueue(ctx, tainter, node, notReadyNoExecute, unreachableNoExecute)
	case corev1.ConditionUnknown:
		return c.swapOrQueue(ctx, tainter, node, unreachableNoExecute, notReadyNoExecute)
	}
	return nil
}

func (c *Controller) swapOrQueue(ctx context.Context, tainter *zoneTainter, node *corev1.Node, want, other corev1.Taint) error {
	switch {
	case hasTaint(node.Spec.Taints, other):
		tainter.remove(node.Name)
		return c.updateTaints(ctx, node, swapTaints([]corev1.Taint{want}, other))
	case !hasTaint(node.Spec.Taints, want):
		tainter.add(node.Name)
	}
	return nil
}

// runTaintingPass adds the NoExecute taint to each zone's queued nodes as
// far as the zone's rate allows, judging each by its Ready condition now.
func (c *Controller) runTaintingPass(ctx context.Context) {
	for _, t := range c.tainters {
		for ctx.Err() == nil {
			name, ok := t.next()
			if !ok {
				break
			}
			if err := c.taintNoExecute(ctx, name); err != nil {
				c.log.Info("adding NoExecute taint failed, will retry", "node", name, "err", err)
				t.add(name)
				break
			}
		}
	}
}

func (c *Controller) taintNoExecute(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if err != nil {
		return nil // deleted; anything else is a cache miss the next pass repairs
	}
	switch readyStatus(findNodeCondition(node.Status.Conditions, corev1.NodeReady)) {
	case corev1.ConditionFalse:
		return c.updateTaints(ctx, node, swapTaints([]corev1.Taint{notReadyNoExecute}, unreachableNoExecute))
	case corev1.ConditionUnknown:
		return c.updateTaints(ctx, node, swapTaints([]corev1.Taint{unreachableNoExecute}, notReadyNoExecute))
	}
	return nil
}
