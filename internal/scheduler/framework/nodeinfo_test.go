package framework_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func ownedPod(name, ns string, controller types.UID) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name)}}
	if controller != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: controller, Controller: new(true)}}
	}
	return p
}

func TestControllerPods(t *testing.T) {
	ni := framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}},
		framework.NewPodInfo(ownedPod("a1", "a", "rs")),
		framework.NewPodInfo(ownedPod("a2", "a", "rs")),
		framework.NewPodInfo(ownedPod("b1", "b", "rs")),
		framework.NewPodInfo(ownedPod("free", "a", "")))
	// A non-controller ownerReference is not a controller.
	notController := ownedPod("x", "a", "rs")
	notController.OwnerReferences[0].Controller = nil
	for _, tc := range []struct {
		pod  *framework.PodInfo
		want int32
	}{
		{framework.NewPodInfo(ownedPod("new", "a", "rs")), 2},
		{framework.NewPodInfo(ownedPod("new", "b", "rs")), 1},
		{framework.NewPodInfo(ownedPod("new", "c", "rs")), 0},
		{framework.NewPodInfo(ownedPod("new", "a", "other")), 0},
		{framework.NewPodInfo(ownedPod("new", "a", "")), 0},
		{framework.NewPodInfo(notController), 0},
		// Made without NewPodInfo: counted by its Controller all the same.
		{&framework.PodInfo{Pod: ownedPod("new", "a", ""), Controller: "rs"}, 2},
	} {
		if got := ni.ControllerPods(tc.pod); got != tc.want {
			t.Errorf("%s/%s: ControllerPods = %d, want %d", tc.pod.Pod.Namespace, tc.pod.Controller, got, tc.want)
		}
	}
}

// TestControllerPodsAddRemoveClone adds and removes pods of many
// controllers (more than the summary bits tell apart, so they share
// bits) on a node and its clones, and checks every count against a map.
func TestControllerPodsAddRemoveClone(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	probes := make([]*framework.PodInfo, 600)
	for i := range probes {
		probes[i] = framework.NewPodInfo(ownedPod("probe", fmt.Sprint("ns", i%2), types.UID(fmt.Sprint("rs", i/2))))
	}
	key := func(p *framework.PodInfo) framework.ControllerKey { return p.ControllerKey() }
	type state struct {
		ni   *framework.NodeInfo
		want map[framework.ControllerKey]int32
		pods []*framework.PodInfo
	}
	check := func(step string, s state) {
		t.Helper()
		for _, p := range probes {
			if got, want := s.ni.ControllerPods(p), s.want[key(p)]; got != want {
				t.Fatalf("%s: %v: ControllerPods = %d, want %d", step, key(p), got, want)
			}
		}
	}
	cur := state{ni: framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}), want: map[framework.ControllerKey]int32{}}
	var kept []state
	for i := range 3000 {
		if len(cur.pods) > 0 && rng.IntN(5) < 2 {
			j := rng.IntN(len(cur.pods))
			p := cur.pods[j]
			if !cur.ni.RemovePod(p.Pod.UID) {
				t.Fatalf("step %d: pod %s not found", i, p.Pod.Name)
			}
			cur.pods = append(cur.pods[:j:j], cur.pods[j+1:]...)
			if cur.want[key(p)]--; cur.want[key(p)] == 0 {
				delete(cur.want, key(p))
			}
		} else {
			// Pods of a few controllers at a time, so that counts go
			// above one and back to none.
			c := probes[(i/50*7+rng.IntN(40))%len(probes)]
			p := framework.NewPodInfo(ownedPod(fmt.Sprint("p", i), c.Pod.Namespace, c.Controller))
			cur.ni.AddPod(p)
			cur.pods = append(cur.pods, p)
			cur.want[key(p)]++
		}
		if i%300 == 0 {
			check(fmt.Sprint("step ", i), cur)
			// Keep this state and go on with a clone: the kept NodeInfo
			// must not change.
			kept = append(kept, cur)
			want := make(map[framework.ControllerKey]int32, len(cur.want))
			for k, v := range cur.want {
				want[k] = v
			}
			cur = state{ni: cur.ni.Clone(), want: want, pods: append([]*framework.PodInfo(nil), cur.pods...)}
		}
	}
	check("end", cur)
	for i, s := range kept {
		check(fmt.Sprint("kept ", i), s)
	}
	for _, p := range cur.pods {
		cur.ni.RemovePod(p.Pod.UID)
	}
	cur.want = nil
	check("emptied", cur)
}
