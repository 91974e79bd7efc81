package storage_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

const benchPods = 10000

// benchPod is a pod of a typical size: labels, owner, one container with
// resources and env, a scheduled status.
func benchPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: fmt.Sprintf("ns-%d", i%10), Name: fmt.Sprintf("web-7d4b9c8f6-%05d", i),
			UID:    types.UID(fmt.Sprintf("0b6f3a52-1c1e-4d7e-9b55-%012d", i)),
			Labels: map[string]string{"app": "web", "pod-template-hash": "7d4b9c8f6", "tier": fmt.Sprintf("t%d", i%3)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet",
				Name: "web-7d4b9c8f6", UID: "3f1c", Controller: new(bool)}},
		},
		Spec: corev1.PodSpec{
			NodeName: fmt.Sprintf("node-%d", i%100),
			Containers: []corev1.Container{{
				Name: "web", Image: "registry.k8s.io/nginx:1.27",
				Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "MODE", Value: "production"}, {Name: "PORT", Value: "80"}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
			}},
			RestartPolicy: corev1.RestartPolicyAlways, ServiceAccountName: "default", SchedulerName: "default-scheduler",
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.42.%d.%d", i/250, i%250), HostIP: "10.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// fillPods writes n pods under prefix directly, in transactions.
func fillPods(b *testing.B, client *clientv3.Client, prefix string, n int) {
	codec := storagetest.StoreConfig().Codec
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := client.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := range n {
		pod := benchPod(i)
		data, err := kruntime.Encode(codec, pod)
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, clientv3.OpPut(prefix+pod.Namespace+"/"+pod.Name, string(data)))
		if len(ops) == 100 {
			flush()
		}
	}
	flush()
}

func benchStore(b *testing.B, cached bool) (storage.Interface, string) {
	client, prefix := etcdtest.Start(b)
	prefix += "/pods/"
	fillPods(b, client, prefix, benchPods)
	cfg := storagetest.StoreConfig()
	if cached {
		cfg.KeyPrefix = prefix
		cfg.WatchIndex = func(obj kruntime.Object) string { return obj.(*corev1.Pod).Spec.NodeName } // as the server's pods
	}
	return storage.NewStore(client, cfg), prefix
}

func benchList(b *testing.B, s storage.Interface, key string, opts storage.ListOptions, want int) {
	b.ReportAllocs()
	for b.Loop() {
		list := &corev1.PodList{}
		if err := s.List(context.Background(), key, opts, list); err != nil {
			b.Fatal(err)
		}
		if want >= 0 && len(list.Items) != want {
			b.Fatalf("%d items, want %d", len(list.Items), want)
		}
	}
}

// BenchmarkListEtcd lists 10k pods from etcd (a store without a cache).
func BenchmarkListEtcd(b *testing.B) {
	s, prefix := benchStore(b, false)
	runListBenchmarks(b, s, prefix)
}

// BenchmarkListCache lists 10k pods from the watch cache (indexed by
// node, as the server's pods are), and reports the heap the cache's state
// takes per pod.
func BenchmarkListCache(b *testing.B) {
	s, prefix := benchStore(b, true)
	before := heapInUse()
	list := &corev1.PodList{}
	if err := s.List(context.Background(), prefix, storage.ListOptions{Recursive: true}, list); err != nil {
		b.Fatal(err)
	}
	list = nil
	after := heapInUse()
	b.Logf("watch cache state: %d pods, %.0f bytes per pod (heap growth, includes etcd's own)", benchPods, float64(after-before)/benchPods)
	runListBenchmarks(b, s, prefix)
	b.ReportMetric(float64(after-before)/benchPods, "cache-B/pod")
}

func runListBenchmarks(b *testing.B, s storage.Interface, prefix string) {
	b.Run("all/rv=", func(b *testing.B) {
		benchList(b, s, prefix, storage.ListOptions{Recursive: true}, benchPods)
	})
	b.Run("all/rv=0", func(b *testing.B) {
		benchList(b, s, prefix, storage.ListOptions{Recursive: true, ResourceVersion: "0"}, benchPods)
	})
	b.Run("node/rv=", func(b *testing.B) {
		benchList(b, s, prefix, storage.ListOptions{Recursive: true, Predicate: onNode("node-7")}, benchPods/100)
	})
	// A kubelet's list: its field selector names the node, so a cache with
	// the node index reads that node's pods alone.
	b.Run("node-indexed/rv=", func(b *testing.B) {
		node := "node-7"
		benchList(b, s, prefix, storage.ListOptions{Recursive: true, Predicate: onNode(node), IndexValue: &node}, benchPods/100)
	})
	b.Run("page500/rv=", func(b *testing.B) {
		benchList(b, s, prefix, storage.ListOptions{Recursive: true, Limit: 500}, 500)
	})
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
