package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runningStatus is the status a kubelet writes for a running pod of two
// containers.
func runningStatus() corev1.PodStatus {
	at := metav1.NewTime(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	cond := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: at}
	}
	ctr := func(name string) corev1.ContainerStatus {
		return corev1.ContainerStatus{
			Name: name, Image: "busybox:1.36", ImageID: "sha256:abc", ContainerID: "containerd://" + name,
			Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at}},
			AllocatedResources: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			},
		}
	}
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			cond(corev1.PodReadyToStartContainers), cond(corev1.PodInitialized), cond(corev1.PodReady),
			cond(corev1.ContainersReady), cond(corev1.PodScheduled),
		},
		HostIP: "10.0.0.1", HostIPs: []corev1.HostIP{{IP: "10.0.0.1"}},
		PodIP: "10.42.0.7", PodIPs: []corev1.PodIP{{IP: "10.42.0.7"}},
		StartTime: &at, QOSClass: corev1.PodQOSBurstable,
		ContainerStatuses: []corev1.ContainerStatus{ctr("app"), ctr("sidecar")},
	}
}

func TestStatusUnchanged(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*corev1.PodStatus)
		want bool
	}{
		"same":               {func(*corev1.PodStatus) {}, true},
		"empty vs nil slice": {func(s *corev1.PodStatus) { s.InitContainerStatuses = []corev1.ContainerStatus{} }, true},
		"quantity spelled out": {func(s *corev1.PodStatus) {
			s.ContainerStatuses[0].AllocatedResources[corev1.ResourceCPU] = resource.MustParse("0.1")
		}, true},
		"time in another zone": {func(s *corev1.PodStatus) {
			in := metav1.NewTime(s.StartTime.In(time.FixedZone("x", 3600)))
			s.StartTime = &in
		}, true},
		"phase":            {func(s *corev1.PodStatus) { s.Phase = corev1.PodSucceeded }, false},
		"condition status": {func(s *corev1.PodStatus) { s.Conditions[2].Status = corev1.ConditionFalse }, false},
		"condition time": {func(s *corev1.PodStatus) {
			s.Conditions[2].LastTransitionTime = metav1.NewTime(s.Conditions[2].LastTransitionTime.Add(time.Second))
		}, false},
		"restart count": {func(s *corev1.PodStatus) { s.ContainerStatuses[1].RestartCount = 1 }, false},
		"container state": {func(s *corev1.PodStatus) {
			s.ContainerStatuses[1].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		}, false},
		"pod IP gone": {func(s *corev1.PodStatus) { s.PodIPs = nil }, false},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := runningStatus(), runningStatus()
			tc.edit(&b)
			if got := statusUnchanged(&a, &b); got != tc.want {
				t.Errorf("statusUnchanged = %v, want %v", got, tc.want)
			}
			if got := statusUnchanged(&b, &a); got != tc.want {
				t.Errorf("reversed: statusUnchanged = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkStatusUnchanged is the question every pod sync asks of a
// running pod whose status has not changed, answered by statusUnchanged
// and by the semantic comparison alone.
func BenchmarkStatusUnchanged(b *testing.B) {
	a, c := runningStatus(), runningStatus()
	for name, equal := range map[string]func(a, b *corev1.PodStatus) bool{
		"encoded":  statusUnchanged,
		"semantic": func(a, b *corev1.PodStatus) bool { return apiequality.Semantic.DeepEqual(*a, *b) },
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !equal(&a, &c) {
					b.Fatal("changed")
				}
			}
		})
	}
}
