package resources

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func testNode(t *testing.T) *corev1.Node {
	t.Helper()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1.example", UID: "u1", ResourceVersion: "4"},
		Spec: corev1.NodeSpec{
			PodCIDR: "10.42.1.0/24",
			Taints:  []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{
			Capacity:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.2"}, {Type: corev1.NodeHostName, Address: "node-1"}},
		},
	}
	r := Nodes()
	r.Default(n)
	if errs := r.Validate(n); len(errs) > 0 {
		t.Fatalf("test node is invalid: %v", errs)
	}
	return n
}

func TestNodeDescriptor(t *testing.T) {
	r := Nodes()
	if r.GVK() != corev1.SchemeGroupVersion.WithKind("Node") || r.Namespaced || !r.HasStatus ||
		!reflect.DeepEqual(r.ShortNames, []string{"no"}) || len(r.Subresources) != 1 || r.Subresources[0].Name != "proxy" ||
		r.Subresources[0].Kind.Kind != "NodeProxyOptions" || r.PrepareForCreate != nil {
		t.Errorf("descriptor = %+v", r)
	}
	n := testNode(t)
	if got := r.Fields(n); !reflect.DeepEqual(got, fields.Set{"spec.unschedulable": "false"}) {
		t.Errorf("fields = %v", got)
	}
	n.Spec.Unschedulable = true
	if got := r.Fields(n)["spec.unschedulable"]; got != "true" {
		t.Errorf("spec.unschedulable = %q", got)
	}
}

func TestNodeDefaults(t *testing.T) {
	n := testNode(t)
	if !reflect.DeepEqual(n.Spec.PodCIDRs, []string{"10.42.1.0/24"}) {
		t.Errorf("podCIDRs = %v", n.Spec.PodCIDRs)
	}
	if !reflect.DeepEqual(n.Status.Allocatable, n.Status.Capacity) {
		t.Errorf("allocatable = %v, want capacity", n.Status.Allocatable)
	}
	// podCIDRs wins over podCIDR, as in upstream's conversion.
	n.Spec.PodCIDRs = []string{"10.42.2.0/24"}
	Nodes().Default(n)
	if n.Spec.PodCIDR != "10.42.2.0/24" {
		t.Errorf("podCIDR = %q", n.Spec.PodCIDR)
	}
}

func TestValidateNode(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(n *corev1.Node)
		want   []string
	}{
		{"valid", func(*corev1.Node) {}, nil},
		{"bad name", func(n *corev1.Node) { n.Name = "Node_1" }, []string{"FieldValueInvalid metadata.name"}},
		{"bad CIDR", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.1.0/33"} }, []string{"FieldValueInvalid spec.podCIDRs[0]"}},
		{"two CIDRs of one family", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.1.0/24", "10.42.2.0/24"} },
			[]string{"FieldValueInvalid spec.podCIDRs"}},
		{"dual-stack pair", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.1.0/24", "fd00:42::/64"} }, nil},
		{"taint key", func(n *corev1.Node) { n.Spec.Taints[0].Key = "-bad" }, []string{"FieldValueInvalid spec.taints[0].key"}},
		{"taint value", func(n *corev1.Node) { n.Spec.Taints[0].Value = "a b" }, []string{"FieldValueInvalid spec.taints[0].value"}},
		{"no effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }, []string{"FieldValueRequired spec.taints[0].effect"}},
		{"unknown effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "NoRun" }, []string{"FieldValueNotSupported spec.taints[0].effect"}},
		{"duplicate taint", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) },
			[]string{"FieldValueDuplicate spec.taints[1]"}},
		{"same key, other effect", func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: n.Spec.Taints[0].Key, Effect: corev1.TaintEffectNoExecute})
		}, nil},
		{"negative capacity", func(n *corev1.Node) { n.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("-1") },
			[]string{"FieldValueInvalid status.capacity[cpu]"}},
		{"duplicate address", func(n *corev1.Node) { n.Status.Addresses = append(n.Status.Addresses, n.Status.Addresses[0]) },
			[]string{"FieldValueDuplicate status.addresses[2]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := testNode(t)
			tc.mutate(n)
			n.Spec.PodCIDR = ""
			Nodes().Default(n)
			expectFieldErrors(t, Nodes().Validate(n), tc.want...)
		})
	}
}

func TestNodeUpdate(t *testing.T) {
	r := Nodes()
	fresh := testNode(t)
	fresh.Spec.PodCIDR, fresh.Spec.PodCIDRs = "", nil

	// The IPAM controller assigns a CIDR once ...
	n := fresh.DeepCopy()
	n.Spec.PodCIDRs = []string{"10.42.7.0/24"}
	r.Default(n)
	expectFieldErrors(t, r.ValidateUpdate(n, fresh))
	// ... and nobody changes it afterwards.
	changed := n.DeepCopy()
	changed.Spec.PodCIDR, changed.Spec.PodCIDRs = "10.42.8.0/24", nil
	r.Default(changed)
	expectFieldErrors(t, r.ValidateUpdate(changed, n), "FieldValueForbidden spec.podCIDRs")

	withID := n.DeepCopy()
	withID.Spec.ProviderID = "skiff://node-1"
	expectFieldErrors(t, r.ValidateUpdate(withID, n))
	other := withID.DeepCopy()
	other.Spec.ProviderID = "skiff://node-2"
	expectFieldErrors(t, r.ValidateUpdate(other, withID), "FieldValueForbidden spec.providerID")

	status := n.DeepCopy()
	status.Status.Capacity[corev1.ResourceMemory] = resource.MustParse("-1Gi")
	expectFieldErrors(t, r.ValidateStatusUpdate(status, n), "FieldValueInvalid status.capacity[memory]")
}
