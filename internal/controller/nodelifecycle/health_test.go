package nodelifecycle

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestObserveUsesControllerClock(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 40 * time.Second
	// The kubelet's clock is an hour behind: only changes matter.
	kubelet := t0.Add(-time.Hour)
	node := func(hb time.Time) *corev1.Node {
		return &corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(hb)},
		}}}
	}
	lease := func(renew time.Time) *coordinationv1.Lease {
		mt := metav1.NewMicroTime(renew)
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &mt}}
	}

	h := observe(nil, node(kubelet), lease(kubelet), t0)
	if h.expired(grace, t0.Add(grace)) {
		t.Fatal("a node seen for the first time has the full grace period")
	}
	if !h.expired(grace, t0.Add(grace+time.Millisecond)) {
		t.Fatal("no heartbeat for longer than the grace period must expire")
	}
	// Nothing changes for 30s, then the lease is renewed.
	h = observe(h, node(kubelet), lease(kubelet), t0.Add(30*time.Second))
	h = observe(h, node(kubelet), lease(kubelet.Add(10*time.Second)), t0.Add(35*time.Second))
	if got := h.probeTime; !got.Equal(t0.Add(35 * time.Second)) {
		t.Fatalf("lease renewal: probe time %v, want %v", got, t0.Add(35*time.Second))
	}
	// A new Ready heartbeat counts too, even without a lease.
	h = observe(h, node(kubelet.Add(20*time.Second)), nil, t0.Add(50*time.Second))
	if got := h.probeTime; !got.Equal(t0.Add(50 * time.Second)) {
		t.Fatalf("status heartbeat: probe time %v, want %v", got, t0.Add(50*time.Second))
	}
	// The lease disappearing is no sign of life.
	h = observe(h, node(kubelet.Add(20*time.Second)), nil, t0.Add(60*time.Second))
	if !h.probeTime.Equal(t0.Add(50 * time.Second)) {
		t.Fatalf("unchanged heartbeats moved the probe time to %v", h.probeTime)
	}
}

func TestMarkUnknown(t *testing.T) {
	created := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(created.Add(time.Hour))
	earlier := metav1.NewTime(created.Add(time.Minute))
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastTransitionTime: earlier},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown, Reason: "Custom", LastTransitionTime: earlier},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastTransitionTime: earlier},
			{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, LastTransitionTime: earlier},
		}},
	}
	if !markUnknown(node, now) {
		t.Fatal("markUnknown reported no change")
	}
	want := map[corev1.NodeConditionType]corev1.NodeCondition{
		corev1.NodeReady:              {Status: corev1.ConditionUnknown, Reason: ReasonNodeStatusUnknown, Message: MessageNodeStatusUnknown, LastTransitionTime: now},
		corev1.NodeMemoryPressure:     {Status: corev1.ConditionUnknown, Reason: "Custom", LastTransitionTime: earlier},
		corev1.NodeDiskPressure:       {Status: corev1.ConditionUnknown, Reason: ReasonNodeStatusUnknown, Message: MessageNodeStatusUnknown, LastTransitionTime: now},
		corev1.NodeNetworkUnavailable: {Status: corev1.ConditionFalse, LastTransitionTime: earlier},
		corev1.NodePIDPressure: {Status: corev1.ConditionUnknown, Reason: ReasonNodeStatusNeverUpdated, Message: MessageNodeStatusNeverUpdated,
			LastTransitionTime: now, LastHeartbeatTime: created},
	}
	if len(node.Status.Conditions) != len(want) {
		t.Fatalf("conditions %+v", node.Status.Conditions)
	}
	for _, c := range node.Status.Conditions {
		w := want[c.Type]
		w.Type = c.Type
		if c.Status != w.Status || c.Reason != w.Reason || c.Message != w.Message ||
			!c.LastTransitionTime.Equal(&w.LastTransitionTime) || !c.LastHeartbeatTime.Equal(&w.LastHeartbeatTime) {
			t.Errorf("condition %s = %+v, want %+v", c.Type, c, w)
		}
	}
	if markUnknown(node, now) {
		t.Error("second markUnknown reported a change")
	}
}
