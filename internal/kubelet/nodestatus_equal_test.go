package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func equalTestStatus(heartbeat time.Time) *corev1.NodeStatus {
	hb, tr := metav1.NewTime(heartbeat), metav1.NewTime(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	rl := func() corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi"),
			corev1.ResourcePods: resource.MustParse("110")}
	}
	return &corev1.NodeStatus{
		Capacity: rl(), Allocatable: rl(),
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: tr, Reason: "KubeletHasSufficientMemory"},
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: hb, LastTransitionTime: tr, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
		},
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.30.0.2"}, {Type: corev1.NodeHostName, Address: "node-1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: "v1.34.0", OperatingSystem: "linux", Architecture: "amd64"},
		Images:          []corev1.ContainerImage{{Names: []string{"registry.k8s.io/pause:3.10"}, SizeBytes: 1 << 20}},
	}
}

func TestNodeStatusEqual(t *testing.T) {
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		change func(*corev1.NodeStatus)
		want   bool
	}{
		{"only heartbeats differ", func(s *corev1.NodeStatus) {}, true},
		{"the same quantity spelled otherwise", func(s *corev1.NodeStatus) { s.Capacity[corev1.ResourceCPU] = resource.MustParse("2000m") }, true},
		{"a condition's status", func(s *corev1.NodeStatus) { s.Conditions[1].Status = corev1.ConditionFalse }, false},
		{"a condition's message", func(s *corev1.NodeStatus) { s.Conditions[1].Message = "PLEG is not healthy" }, false},
		{"a transition time", func(s *corev1.NodeStatus) { s.Conditions[0].LastTransitionTime = metav1.NewTime(base) }, false},
		{"one condition fewer", func(s *corev1.NodeStatus) { s.Conditions = s.Conditions[:1] }, false},
		{"allocatable memory", func(s *corev1.NodeStatus) { s.Allocatable[corev1.ResourceMemory] = resource.MustParse("7Gi") }, false},
		{"a capacity more", func(s *corev1.NodeStatus) { s.Capacity["example.com/gpu"] = resource.MustParse("1") }, false},
		{"an address", func(s *corev1.NodeStatus) { s.Addresses[0].Address = "172.30.0.3" }, false},
		{"an image", func(s *corev1.NodeStatus) { s.Images[0].SizeBytes++ }, false},
		{"volumes in use", func(s *corev1.NodeStatus) { s.VolumesInUse = []corev1.UniqueVolumeName{"kubernetes.io/csi/x"} }, false},
	}
	for _, c := range cases {
		a, b := equalTestStatus(base), equalTestStatus(base.Add(10*time.Second))
		c.change(b)
		if got := nodeStatusEqual(a, b); got != c.want {
			t.Errorf("%s: equal = %v, want %v", c.name, got, c.want)
		}
		if got := nodeStatusEqual(b, a); got != c.want {
			t.Errorf("%s (reversed): equal = %v, want %v", c.name, got, c.want)
		}
	}
	a := equalTestStatus(base)
	nodeStatusEqual(a, equalTestStatus(base.Add(time.Second)))
	if !a.Conditions[0].LastHeartbeatTime.Equal(&metav1.Time{Time: base}) || len(a.Capacity) != 3 {
		t.Error("nodeStatusEqual changed its argument")
	}
}

// BenchmarkNodeStatusEqual is the check every node makes each
// NodeStatusUpdateFrequency.
func BenchmarkNodeStatusEqual(b *testing.B) {
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	x, y := equalTestStatus(base), equalTestStatus(base.Add(10*time.Second))
	b.ReportAllocs()
	for b.Loop() {
		if !nodeStatusEqual(x, y) {
			b.Fatal("not equal")
		}
	}
}
