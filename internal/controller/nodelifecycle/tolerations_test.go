package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEvictionTime(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	secs := func(s int64) *int64 { return &s }
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute,
		TimeAdded: &metav1.Time{Time: t0}}
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute,
		TimeAdded: &metav1.Time{Time: t0.Add(10 * time.Second)}}
	custom := corev1.Taint{Key: "example.com/drain", Value: "yes", Effect: corev1.TaintEffectNoExecute}
	customSeen := t0.Add(time.Minute)
	since := func(t *corev1.Taint) time.Time {
		if t.TimeAdded != nil {
			return t.TimeAdded.Time
		}
		return customSeen
	}
	tolerate := func(key string, s *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: s}
	}
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		taints      []corev1.Taint
		wantEvict   bool
		wantAt      time.Time
	}{
		{name: "no taints", tolerations: nil, taints: nil},
		{name: "untolerated", taints: []corev1.Taint{unreachable}, wantEvict: true},
		{name: "tolerated forever",
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)},
			taints:      []corev1.Taint{unreachable}},
		{name: "tolerated for a while, counted from timeAdded",
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(300))},
			taints:      []corev1.Taint{unreachable}, wantEvict: true, wantAt: t0.Add(300 * time.Second)},
		{name: "earliest deadline over the taints",
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(300)), tolerate(corev1.TaintNodeNotReady, secs(5))},
			taints:      []corev1.Taint{unreachable, notReady}, wantEvict: true, wantAt: t0.Add(15 * time.Second)},
		{name: "one taint untolerated wins",
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)},
			taints:      []corev1.Taint{unreachable, notReady}, wantEvict: true},
		{name: "first matching toleration decides",
			tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}, tolerate(corev1.TaintNodeUnreachable, secs(1))},
			taints:      []corev1.Taint{unreachable}},
		{name: "negative seconds mean now",
			tolerations: []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(-3))},
			taints:      []corev1.Taint{unreachable}, wantEvict: true, wantAt: t0},
		{name: "value must match for Equal",
			tolerations: []corev1.Toleration{{Key: "example.com/drain", Value: "no", Effect: corev1.TaintEffectNoExecute}},
			taints:      []corev1.Taint{custom}, wantEvict: true},
		{name: "taint without timeAdded counts from first sight",
			tolerations: []corev1.Toleration{{Key: "example.com/drain", Value: "yes", TolerationSeconds: secs(2)}},
			taints:      []corev1.Taint{custom}, wantEvict: true, wantAt: customSeen.Add(2 * time.Second)},
		{name: "effect must match",
			tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			taints:      []corev1.Taint{unreachable}, wantEvict: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, evict := evictionTime(tt.tolerations, tt.taints, since)
			if evict != tt.wantEvict || !at.Equal(tt.wantAt) {
				t.Errorf("evictionTime = %v, %v; want %v, %v", at, evict, tt.wantAt, tt.wantEvict)
			}
		})
	}
}
