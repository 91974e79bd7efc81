package nodelifecycle

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestComputeZoneState(t *testing.T) {
	const (
		T = corev1.ConditionTrue
		F = corev1.ConditionFalse
		U = corev1.ConditionUnknown
	)
	tests := []struct {
		statuses []corev1.ConditionStatus
		want     zoneState
	}{
		{[]corev1.ConditionStatus{T, T}, zoneNormal},
		{[]corev1.ConditionStatus{T, U}, zoneNormal},
		{[]corev1.ConditionStatus{T, U, F}, zoneNormal},                   // two not ready are never a disruption
		{[]corev1.ConditionStatus{T, T, U, F, ""}, zonePartialDisruption}, // 3/5 >= 0.55; "" (no Ready yet) counts
		{[]corev1.ConditionStatus{T, T, T, U, F, U}, zoneNormal},          // 3/6 < 0.55
		{[]corev1.ConditionStatus{U}, zoneFullDisruption},
		{[]corev1.ConditionStatus{F, U, ""}, zoneFullDisruption},
	}
	for _, tt := range tests {
		if got := computeZoneState(tt.statuses, DefaultUnhealthyZoneThreshold); got != tt.want {
			t.Errorf("computeZoneState(%v) = %v, want %v", tt.statuses, got, tt.want)
		}
	}
}

func TestEvictionRate(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		state zoneState
		size  int
		want  float64
	}{
		{zoneNormal, 3, DefaultNodeEvictionRate},
		{zoneFullDisruption, 3, DefaultNodeEvictionRate}, // one zone down, others up: evacuate it
		{zonePartialDisruption, 10, 0},
		{zonePartialDisruption, 51, DefaultSecondaryNodeEvictionRate},
	} {
		if got := o.evictionRate(tt.state, tt.size); got != tt.want {
			t.Errorf("evictionRate(%v, %d) = %v, want %v", tt.state, tt.size, got, tt.want)
		}
	}
}

func TestZoneTainterRate(t *testing.T) {
	z := newZoneTainter()
	z.add("a")
	z.add("b")
	z.add("a")
	if _, ok := z.next(); ok {
		t.Fatal("a tainter without a rate let a node through")
	}
	z.setRate(0.001) // one at once, the next only after ~17 minutes
	if n, ok := z.next(); !ok || n != "a" {
		t.Fatalf("next = %q, %v; want a", n, ok)
	}
	if n, ok := z.next(); ok {
		t.Fatalf("next = %q beyond the rate", n)
	}
	z.remove("b")
	z.setRate(1000)
	if n, ok := z.next(); ok {
		t.Fatalf("removed node %q came out", n)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{NodeMonitorGracePeriod: -1},
		{UnhealthyZoneThreshold: 1.5},
		{LargeClusterSizeThreshold: -1},
		{EvictionWorkers: -2},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	o, err := Options{NodeEvictionRate: -1}.withDefaults()
	if err != nil || o.NodeEvictionRate != 0 || o.NodeMonitorPeriod != DefaultNodeMonitorPeriod {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}
