package kubelet_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

func TestNodeRegistersAndRenewsLease(t *testing.T) {
	client, _ := controllertest.Start(t)
	n := startNode(t, client, "node-a", func(c *kubelet.Config) {
		c.Labels = map[string]string{"topology.kubernetes.io/zone": "z1"}
	})
	ctx := context.Background()

	var node *corev1.Node
	controllertest.Eventually(t, 10*time.Second, func() error {
		var err error
		node, err = client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if nodeReady(&node.Status) != corev1.ConditionTrue {
			return errors.New("not ready yet")
		}
		return nil
	})
	for key, want := range map[string]string{
		"kubernetes.io/hostname":      "node-a",
		"kubernetes.io/os":            "linux",
		"kubernetes.io/arch":          runtime.GOARCH,
		"topology.kubernetes.io/zone": "z1",
	} {
		if got := node.Labels[key]; got != want {
			t.Errorf("label %s = %q, want %q", key, got, want)
		}
	}
	st := node.Status
	if len(st.Addresses) != 2 || st.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.10"}) ||
		st.Addresses[1] != (corev1.NodeAddress{Type: corev1.NodeHostName, Address: "node-a"}) {
		t.Errorf("addresses = %v", st.Addresses)
	}
	if st.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("kubelet port = %d", st.DaemonEndpoints.KubeletEndpoint.Port)
	}
	info := st.NodeInfo
	if info.ContainerRuntimeVersion != "fake://0.1.0" || info.KubeletVersion != kubelet.DefaultKubeletVersion ||
		info.OperatingSystem != "linux" || info.Architecture != runtime.GOARCH || info.KernelVersion == "" || info.OSImage == "" {
		t.Errorf("nodeInfo = %+v", info)
	}
	if st.Capacity.Cpu().Value() != int64(runtime.NumCPU()) || st.Capacity.Pods().Value() != 110 ||
		st.Capacity.Memory().Value() == 0 || st.Capacity.StorageEphemeral().Value() == 0 {
		t.Errorf("capacity = %v", st.Capacity)
	}
	if st.Allocatable.Memory().Cmp(*st.Capacity.Memory()) >= 0 {
		t.Errorf("allocatable memory %v not below capacity %v", st.Allocatable.Memory(), st.Capacity.Memory())
	}
	want := map[corev1.NodeConditionType]string{
		corev1.NodeMemoryPressure: "False/KubeletHasSufficientMemory",
		corev1.NodeDiskPressure:   "False/KubeletHasNoDiskPressure",
		corev1.NodePIDPressure:    "False/KubeletHasSufficientPID",
		corev1.NodeReady:          "True/KubeletReady",
	}
	for _, c := range st.Conditions {
		if w, ok := want[c.Type]; ok && w != string(c.Status)+"/"+c.Reason {
			t.Errorf("condition %s = %s/%s, want %s", c.Type, c.Status, c.Reason, w)
		}
		delete(want, c.Type)
	}
	if len(want) > 0 {
		t.Errorf("missing conditions %v", want)
	}

	// The lease exists, is owned by the node and keeps being renewed.
	var first time.Time
	controllertest.Eventually(t, 5*time.Second, func() error {
		lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if *lease.Spec.HolderIdentity != "node-a" || *lease.Spec.LeaseDurationSeconds != 40 ||
			len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].UID != node.UID {
			t.Fatalf("lease = %+v", lease)
		}
		if first.IsZero() {
			first = lease.Spec.RenewTime.Time
			return errors.New("waiting for a renewal")
		}
		if !lease.Spec.RenewTime.After(first) {
			return errors.New("not renewed yet")
		}
		return nil
	})

	// A runtime that stops answering makes the node NotReady, with why.
	n.rt.SetHealthy(false)
	controllertest.Eventually(t, 5*time.Second, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionFalse && c.Reason == "KubeletNotReady" &&
				c.Message == "container runtime is down" {
				return nil
			}
		}
		return errors.New("still ready")
	})
	n.rt.SetHealthy(true)
	controllertest.Eventually(t, 5*time.Second, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if nodeReady(&node.Status) != corev1.ConditionTrue {
			return errors.New("not ready again")
		}
		return nil
	})

	// A restarted kubelet adopts its Node.
	n.stop()
	n2 := runNode(t, n.cfg)
	_ = n2
	controllertest.Eventually(t, 5*time.Second, func() error {
		again, err := client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if again.UID != node.UID {
			t.Fatalf("node was recreated")
		}
		return nil
	})
}

func TestNodeStatusWrittenOnlyOnChange(t *testing.T) {
	client, _ := controllertest.Start(t)
	startNode(t, client, "node-quiet")
	ctx := context.Background()
	var rv string
	controllertest.Eventually(t, 10*time.Second, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, "node-quiet", metav1.GetOptions{})
		if err != nil {
			return err
		}
		rv = node.ResourceVersion
		return nil
	})
	// Ten status periods with nothing changing: no new writes.
	time.Sleep(2 * time.Second)
	node, err := client.CoreV1().Nodes().Get(ctx, "node-quiet", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.ResourceVersion != rv {
		t.Errorf("node written without a change: rv %s → %s", rv, node.ResourceVersion)
	}
}
