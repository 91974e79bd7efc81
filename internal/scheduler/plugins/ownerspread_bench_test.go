package plugins

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// ownerCluster is the shape of a density run: nodes nodes, each with
// perNode pods of perNode different ReplicaSets, drawn from rs ReplicaSets
// (UUID UIDs) spread over ns namespaces. Pods are built in a shuffled
// order, each with strings of its own as a decoded object has, so a
// node's pods and their strings are scattered over the heap as in a
// long-running scheduler. It returns the nodes and one pod of every
// ReplicaSet, to score.
func ownerCluster(nodes, perNode, rs, ns int) ([]*framework.NodeInfo, []*framework.PodInfo) {
	rng := rand.New(rand.NewPCG(1, 2))
	uids := make([]string, rs)
	for i := range uids {
		uids[i] = fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff,
			0x4000|rng.Uint32()&0x0fff, 0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
	}
	// rsOf(i) is the namespace and UID of ReplicaSet i, in new strings.
	rsOf := func(i int) (string, types.UID) {
		return fmt.Sprintf("namespace-%02d", i%ns), types.UID(strings.Clone(uids[i]))
	}
	newPod := func(name string, i int) *corev1.Pod {
		namespace, uid := rsOf(i)
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: types.UID(name),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: uid, Controller: new(true)}}}}
	}
	type slot struct{ node, rs int }
	var slots []slot
	for n := range nodes {
		// perNode distinct ReplicaSets for this node.
		for _, r := range rng.Perm(rs)[:perNode] {
			slots = append(slots, slot{n, r})
		}
	}
	rng.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	infos := make([]*framework.NodeInfo, nodes)
	for n := range infos {
		infos[n] = framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%05d", n)}})
	}
	for i, s := range slots {
		infos[s.node].AddPod(framework.NewPodInfo(newPod(fmt.Sprint("p-", i), s.rs)))
	}
	pending := make([]*framework.PodInfo, rs)
	for i := range pending {
		pending[i] = framework.NewPodInfo(newPod(fmt.Sprint("pending-", i), i))
	}
	return infos, pending
}

// BenchmarkOwnerSpreadScore scores one pod against every node of a
// 2,000-node density run (30 pods of 30 ReplicaSets a node, 6,000
// ReplicaSets in 50 namespaces): an op is a pod scored on all nodes, as
// Schedule does when every node is feasible. Successive ops score pods of
// different ReplicaSets.
func BenchmarkOwnerSpreadScore(b *testing.B) {
	nodes, pending := ownerCluster(2000, 30, 6000, 50)
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	var sum int64
	i := 0
	for b.Loop() {
		pod := pending[i%len(pending)]
		i += 97 // not the next ReplicaSet, whose strings were built next to it
		for _, n := range nodes {
			sum += OwnerSpread{}.Score(pod, n)
		}
	}
	// 60,000 pods of 6,000 ReplicaSets: 10 replicas each on average.
	if sum == 0 {
		b.Fatal("no pod scored a sibling")
	}
}

// BenchmarkOwnerSpreadAddPod is what the cache does per pod it learns of:
// clone the node's NodeInfo (copy-on-write) and add the pod.
func BenchmarkOwnerSpreadAddPod(b *testing.B) {
	nodes, pending := ownerCluster(2000, 30, 6000, 50)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ni := nodes[i%len(nodes)].Clone()
		ni.AddPod(pending[i%len(pending)])
		i++
	}
}
