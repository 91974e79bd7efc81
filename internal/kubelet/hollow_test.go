package kubelet_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// TestHollowNodesAtScale runs 50 hollow kubelets on fake runtimes in one
// process, sharing a client and an event broadcaster, runs 200 pods on
// them and deletes them, and reports the memory and goroutines each
// hollow node costs.
func TestHollowNodesAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	const nodes, pods = 50, 200
	client, ns := controllertest.Start(t)
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	t.Cleanup(broadcaster.Shutdown)

	baseHeap, baseGoroutines := heapInUse(), runtime.NumGoroutine()
	start := time.Now()
	for i := 0; i < nodes; i++ {
		startNode(t, client, fmt.Sprintf("hollow-%02d", i), func(c *kubelet.Config) {
			c.Hollow = true
			c.EventBroadcaster = broadcaster
			c.RootDir, c.PodLogsDir = "/nonexistent/kubelet", "/nonexistent/pods"
			c.NodeIP = fmt.Sprintf("10.1.0.%d", i+1)
			// Upstream's timings, except a faster relist.
			c.NodeStatusUpdateFrequency, c.NodeLeaseRenewInterval, c.ResyncPeriod = 10*time.Second, 10*time.Second, 10*time.Second
			c.RelistPeriod = time.Second
		})
	}
	waitNodesReady(t, client, nodes)
	registered := time.Since(start)
	idleHeap, idleGoroutines := heapInUse(), runtime.NumGoroutine()

	start = time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := 0; i < pods; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			pod := basicPod(ns, fmt.Sprintf("p-%03d", i), fmt.Sprintf("hollow-%02d", i%nodes), "sleep", "3600")
			if _, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
				t.Errorf("create: %v", err)
			}
		}(i)
	}
	wg.Wait()
	controllertest.Eventually(t, 60*time.Second, func() error {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		running := 0
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && len(p.Status.PodIPs) == 1 {
				running++
			}
		}
		if running < pods {
			return fmt.Errorf("%d/%d running", running, pods)
		}
		return nil
	})
	allRunning := time.Since(start)
	busyHeap, busyGoroutines := heapInUse(), runtime.NumGoroutine()

	start = time.Now()
	if err := client.CoreV1().Pods(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("DeleteCollection returned after %v", time.Since(start))
	controllertest.Eventually(t, 60*time.Second, func() error {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d pods left", len(list.Items))
		}
		return nil
	})
	allGone := time.Since(start)

	t.Logf("%d hollow nodes registered and Ready in %v", nodes, registered.Round(time.Millisecond))
	t.Logf("idle: %.0f KiB heap and %.1f goroutines per hollow node",
		float64(idleHeap-baseHeap)/1024/nodes, float64(idleGoroutines-baseGoroutines)/nodes)
	t.Logf("%d pods Running in %v; with them: %.0f KiB heap and %.1f goroutines per node",
		pods, allRunning.Round(time.Millisecond), float64(busyHeap-baseHeap)/1024/nodes, float64(busyGoroutines-baseGoroutines)/nodes)
	t.Logf("%d pods deleted (graceful, via the kubelets) in %v", pods, allGone.Round(time.Millisecond))
}

func waitNodesReady(t *testing.T, client kubernetes.Interface, want int) {
	t.Helper()
	controllertest.Eventually(t, 60*time.Second, func() error {
		list, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			if nodeReady(&list.Items[i].Status) == corev1.ConditionTrue {
				ready++
			}
		}
		if ready < want {
			return fmt.Errorf("%d/%d nodes ready", ready, want)
		}
		return nil
	})
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
