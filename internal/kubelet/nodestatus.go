package kubelet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxNodeImages is how many images the Node lists, and
// maxNamesPerImage how many names each, as upstream.
const (
	maxNodeImages    = 50
	maxNamesPerImage = 5
)

// runHeartbeat renews the lease every NodeLeaseRenewInterval and
// computes the node's status every NodeStatusUpdateFrequency, writing it
// when it changed or when the last write is NodeStatusReportFrequency
// old (upstream's semantics; the lease is the heartbeat in between). One
// goroutine does both, to keep hollow nodes cheap.
//
// A real node that is not Ready yet (runtime or pod network still coming
// up) recomputes its status every second instead, so it turns Ready as
// soon as it can rather than up to a status period later.
func (k *Kubelet) runHeartbeat(ctx context.Context) {
	period := min(k.cfg.NodeLeaseRenewInterval, k.cfg.NodeStatusUpdateFrequency)
	if !k.cfg.Hollow {
		period = min(period, notReadyStatusPeriod)
	}
	var lastLease, lastStatus time.Time
	tick := func(ctx context.Context) {
		now := k.clock.Now()
		// Within a tenth of a period counts as due: the ticker jitters.
		if now.Sub(lastLease) >= k.cfg.NodeLeaseRenewInterval*9/10 {
			lastLease = now
			if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
				k.log.Info("lease renewal failed, retrying", "err", err)
			}
		}
		if now.Sub(lastStatus) >= k.cfg.NodeStatusUpdateFrequency*9/10 ||
			(!k.nodeReady() && now.Sub(lastStatus) >= notReadyStatusPeriod*9/10) {
			lastStatus = now
			k.syncNodeStatus(ctx)
		}
	}
	if k.cfg.Hollow {
		// Hollow nodes start together, real machines do not: after the
		// first heartbeat each takes a random phase of the period, or
		// thousands of them renew their Leases in step.
		tick(ctx)
		select {
		case <-k.clock.After(rand.N(period)):
		case <-ctx.Done():
			return
		}
	}
	// On a fixed cadence, as upstream's node status loop (see pollFixed).
	k.pollFixed(ctx, period, tick)
}

// notReadyStatusPeriod is how often a not-Ready node looks again.
const notReadyStatusPeriod = time.Second

// nodeReady reports whether the last status computed said Ready.
func (k *Kubelet) nodeReady() bool {
	k.node.mu.Lock()
	defer k.node.mu.Unlock()
	if k.node.lastStatus == nil {
		return false
	}
	for _, c := range k.node.lastStatus.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// syncNodeStatus computes the status and writes it if due.
func (k *Kubelet) syncNodeStatus(ctx context.Context) {
	status := k.computeNodeStatus(ctx)
	k.node.mu.Lock()
	due := k.node.lastStatus == nil || !nodeStatusEqual(k.node.lastStatus, status) ||
		k.clock.Since(k.node.lastReported) >= k.cfg.NodeStatusReportFrequency
	k.node.mu.Unlock()
	if !due {
		return
	}
	if err := k.writeNodeStatus(ctx, status); err != nil && ctx.Err() == nil {
		k.log.Info("node status update failed, retrying", "err", err)
	}
}

// writeNodeStatus puts status on the current Node, keeping conditions
// other components own.
func (k *Kubelet) writeNodeStatus(ctx context.Context, status *corev1.NodeStatus) error {
	nodes := k.client.CoreV1().Nodes()
	for attempt := 0; ; attempt++ {
		// The first read may be the API server's cache ("0"), as
		// upstream's kubelet reads it: a stale copy fails the update
		// with a conflict, and the retry reads the latest.
		opts := metav1.GetOptions{}
		if attempt == 0 {
			opts.ResourceVersion = "0"
		}
		node, err := nodes.Get(ctx, k.cfg.NodeName, opts)
		if err != nil {
			return err
		}
		node = node.DeepCopy()
		mine := map[corev1.NodeConditionType]bool{}
		for _, c := range status.Conditions {
			mine[c.Type] = true
		}
		merged := *status.DeepCopy()
		for _, c := range node.Status.Conditions {
			if !mine[c.Type] {
				merged.Conditions = append(merged.Conditions, c)
			}
		}
		node.Status = merged
		_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if err == nil {
			k.recordNodeStatus(status)
			return nil
		}
		if attempt >= 2 || !isConflict(err) {
			return err
		}
	}
}

// recordNodeStatus remembers what was written and when.
func (k *Kubelet) recordNodeStatus(status *corev1.NodeStatus) {
	k.node.mu.Lock()
	defer k.node.mu.Unlock()
	prev := k.node.lastStatus
	k.node.lastStatus = status
	k.node.lastReported = k.clock.Now()
	if prev == nil || readyOf(prev) != readyOf(status) {
		ready := readyOf(status)
		reason := "NodeReady"
		msg := "Node " + k.cfg.NodeName + " status is now: NodeReady"
		if ready != corev1.ConditionTrue {
			reason, msg = "NodeNotReady", "Node "+k.cfg.NodeName+" status is now: NodeNotReady"
		}
		k.nodeEvent(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName}}, corev1.EventTypeNormal, reason, msg)
	}
}

func readyOf(s *corev1.NodeStatus) corev1.ConditionStatus {
	for _, c := range s.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// computeNodeStatus builds the node's status from the machine and the
// runtime. Condition transition times carry over from the last status.
func (k *Kubelet) computeNodeStatus(ctx context.Context) *corev1.NodeStatus {
	now := metav1.NewTime(k.clock.Now()).Rfc3339Copy()
	runtimeErrs := k.runtimeHealth(ctx)
	version := ""
	if v := k.runtimeVersion.Load(); v != nil {
		version = k.containerIDPrefix() + *v
	}
	status := &corev1.NodeStatus{
		Capacity:    k.machine.capacity.DeepCopy(),
		Allocatable: k.machine.allocatable.DeepCopy(),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: k.nodeIP},
			{Type: corev1.NodeHostName, Address: k.cfg.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: k.cfg.Port}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               k.machine.machineID,
			SystemUUID:              k.machine.systemUUID,
			BootID:                  k.machine.bootID,
			KernelVersion:           k.machine.kernel,
			OSImage:                 k.machine.osImage,
			ContainerRuntimeVersion: version,
			KubeletVersion:          k.cfg.KubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            goarch(),
		},
		Images: k.nodeImages(ctx),
	}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", Message: "kubelet is posting ready status"}
	if len(runtimeErrs) > 0 {
		msg := runtimeErrs[0]
		if len(runtimeErrs) > 1 {
			msg = "[" + strings.Join(runtimeErrs, ", ") + "]"
		}
		ready = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: msg}
	}
	status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		ready,
	}
	k.node.mu.Lock()
	prev := k.node.lastStatus
	k.node.mu.Unlock()
	for i := range status.Conditions {
		c := &status.Conditions[i]
		c.LastHeartbeatTime = now
		c.LastTransitionTime = now
		if prev != nil {
			for _, p := range prev.Conditions {
				if p.Type == c.Type && p.Status == c.Status {
					c.LastTransitionTime = p.LastTransitionTime
				}
			}
		}
	}
	return status
}

// runtimeHealth asks the runtime for its status; the messages say why the
// node is not ready, as upstream words them.
func (k *Kubelet) runtimeHealth(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if k.runtimeName.Load() == nil {
		_ = k.refreshRuntimeVersion(ctx)
	}
	resp, err := k.runtime.Status(ctx, false)
	if err != nil {
		return []string{"container runtime is down"}
	}
	var errs []string
	for _, want := range []string{runtimeapi.RuntimeReady, runtimeapi.NetworkReady} {
		var cond *runtimeapi.RuntimeCondition
		for _, c := range resp.GetStatus().GetConditions() {
			if c.Type == want {
				cond = c
			}
		}
		switch {
		case cond == nil:
			errs = append(errs, fmt.Sprintf("container runtime status check may not have completed yet: runtime did not report %s", want))
		case !cond.Status && want == runtimeapi.NetworkReady:
			errs = append(errs, fmt.Sprintf("container runtime network not ready: NetworkReady=false reason:%s message:%s", cond.Reason, cond.Message))
		case !cond.Status:
			errs = append(errs, fmt.Sprintf("container runtime not ready: RuntimeReady=false reason:%s message:%s", cond.Reason, cond.Message))
		}
	}
	return errs
}

// nodeImages lists the runtime's images, largest first, at most 50,
// each with at most 5 names (digests first, then tags).
func (k *Kubelet) nodeImages(ctx context.Context) []corev1.ContainerImage {
	imgs, err := k.images.ListImages(ctx, nil)
	if err != nil {
		return nil
	}
	sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Size > imgs[j].Size })
	var out []corev1.ContainerImage
	for _, img := range imgs {
		if len(out) == maxNodeImages {
			break
		}
		names := append(append([]string{}, img.RepoDigests...), img.RepoTags...)
		if len(names) == 0 {
			continue
		}
		if len(names) > maxNamesPerImage {
			names = names[:maxNamesPerImage]
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: int64(img.Size)})
	}
	return out
}

// nodeStatusEqual compares statuses ignoring heartbeat times. Every node
// asks it every NodeStatusUpdateFrequency, so it compares in place: the
// conditions and resource lists by hand, the rest as shallow copies
// without them.
func nodeStatusEqual(a, b *corev1.NodeStatus) bool {
	if len(a.Conditions) != len(b.Conditions) ||
		!resourceListEqual(a.Capacity, b.Capacity) || !resourceListEqual(a.Allocatable, b.Allocatable) {
		return false
	}
	for i := range a.Conditions {
		x, y := &a.Conditions[i], &b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message ||
			!x.LastTransitionTime.Equal(&y.LastTransitionTime) {
			return false
		}
	}
	ra, rb := *a, *b
	ra.Conditions, rb.Conditions = nil, nil
	ra.Capacity, rb.Capacity = nil, nil
	ra.Allocatable, rb.Allocatable = nil, nil
	return apiequality.Semantic.DeepEqual(&ra, &rb)
}

// resourceListEqual compares quantities by value, as the Semantic
// equality does.
func resourceListEqual(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, q := range a {
		r, ok := b[k]
		if !ok || q.Cmp(r) != 0 {
			return false
		}
	}
	return true
}
