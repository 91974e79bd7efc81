package resources

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateLease(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	str := func(v string) *string { return &v }
	cases := []struct {
		name string
		spec coordinationv1.LeaseSpec
		want []string
	}{
		{"empty", coordinationv1.LeaseSpec{}, nil},
		{"node heartbeat", coordinationv1.LeaseSpec{HolderIdentity: str("node-1"), LeaseDurationSeconds: i32(40), LeaseTransitions: i32(0)}, nil},
		{"zero duration", coordinationv1.LeaseSpec{LeaseDurationSeconds: i32(0)}, []string{"FieldValueInvalid spec.leaseDurationSeconds"}},
		{"negative transitions", coordinationv1.LeaseSpec{LeaseTransitions: i32(-1)}, []string{"FieldValueInvalid spec.leaseTransitions"}},
		{"preferred holder without strategy", coordinationv1.LeaseSpec{PreferredHolder: str("a")}, []string{"FieldValueForbidden spec.preferredHolder"}},
	}
	r := Leases()
	if r.GVK() != coordinationv1.SchemeGroupVersion.WithKind("Lease") || !r.Namespaced {
		t.Errorf("descriptor = %+v", r)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease", ResourceVersion: "2"}, Spec: tc.spec}
			expectFieldErrors(t, r.Validate(l), tc.want...)
			expectFieldErrors(t, r.ValidateUpdate(l, l.DeepCopy()), tc.want...)
		})
	}
}
