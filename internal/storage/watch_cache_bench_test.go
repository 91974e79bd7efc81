package storage

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkDispatchNodeSelectors measures offering one pod update to
// 1,000 watchers that each select one node's pods the way the API server's
// field selector predicates do (a fields.Set per object and watcher),
// without and with the node name index.
func BenchmarkDispatchNodeSelectors(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		b.Run(fmt.Sprintf("indexed=%v", indexed), func(b *testing.B) {
			benchmarkDispatch(b, indexed)
		})
	}
}

func benchmarkDispatch(b *testing.B, indexed bool) {
	const watchers = 1000
	nodeName := func(obj runtime.Object) string { return obj.(*corev1.Pod).Spec.NodeName }
	subs := &fanout{}
	c := &watchCache{budget: newTimeBudget(), index: nodeName, subs: subs}
	var target *subscription
	for i := range watchers {
		node := fmt.Sprintf("node-%d", i)
		sel := fields.OneTermEqualSelector("spec.nodeName", node)
		pred := func(obj runtime.Object) (bool, error) {
			pod := obj.(*corev1.Pod)
			set := fields.Set{"spec.nodeName": pod.Spec.NodeName, "status.phase": string(pod.Status.Phase),
				"spec.restartPolicy": string(pod.Spec.RestartPolicy), "spec.schedulerName": pod.Spec.SchedulerName,
				"spec.serviceAccountName": pod.Spec.ServiceAccountName, "spec.hostNetwork": "false",
				"status.podIP": pod.Status.PodIP, "status.nominatedNodeName": pod.Status.NominatedNodeName,
				"metadata.name": pod.Name, "metadata.namespace": pod.Namespace}
			return sel.Matches(set), nil
		}
		sub := &subscription{filter: watchFilter{key: "/registry/pods/", recursive: true, pred: pred},
			indexed: indexed, indexValue: node, input: make(chan cacheItem, 1), done: make(chan struct{})}
		subs.add(sub)
		if i == 7 {
			target = sub
		}
	}
	prev := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}, Spec: corev1.PodSpec{NodeName: "node-7"}}
	cur := prev.DeepCopy()
	cur.Status.Phase = corev1.PodRunning
	b.ReportAllocs()
	for b.Loop() {
		e := &cachedEvent{key: "/registry/pods/ns/p", rev: 2, cur: cur, prevSrc: prev, prevRev: 1}
		c.dispatch([]*cachedEvent{e})
		<-target.input
	}
}

// BenchmarkFanoutJoinLeave measures one watcher joining and leaving a
// shared watch that 5,000 others follow, half of them by a node's index
// value: a kubelet's watch ending and restarting at 5,000 nodes.
func BenchmarkFanoutJoinLeave(b *testing.B) {
	f := &fanout{}
	for i := range 5000 {
		sub := &subscription{}
		if i%2 == 0 {
			sub.indexed, sub.indexValue = true, fmt.Sprintf("node-%d", i)
		}
		f.add(sub)
	}
	sub := &subscription{indexed: true, indexValue: "node-x"}
	b.ReportAllocs()
	for b.Loop() {
		f.add(sub)
		f.remove(sub)
	}
}
