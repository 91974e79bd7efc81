package scheduler_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/test/framework"
)

// parallel runs fn(i) for i in [0, n) on workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// TestSchedulingThroughput measures pods bound per second through the real
// API server: 1000 pending pods onto 500 fake nodes, from scheduler start
// to the last binding seen by a watch. It prints and never gates on a time.
func TestSchedulingThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput measurement skipped in -short mode")
	}
	const numNodes, numPods = 500, 1000
	srv := framework.StartServer(t, framework.Options{})
	cs := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	parallel(numNodes, 16, func(i int) {
		createNode(t, ctx, cs, fmt.Sprintf("node-%04d", i), "4", "16Gi", nil)
	})
	// The pods are created first, so that the measurement is the
	// scheduler's (decide, bind, confirm through the watch), not the
	// apiserver's create rate on this machine.
	createStart := time.Now()
	parallel(numPods, 16, func(i int) {
		createPod(t, ctx, cs, newPod(fmt.Sprintf("p-%04d", i), "100m"))
	})
	creating := time.Since(createStart)
	// Count bindings from a watch: polling Lists would load the apiserver
	// the measurement shares two cores with.
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	startScheduler(t, cs, scheduler.Config{})
	perNode := map[string]int{}
	boundPods := map[string]bool{}
	timeout := time.After(4 * time.Minute)
	for len(boundPods) < numPods {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %d bindings", len(boundPods))
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || p.Spec.NodeName == "" || boundPods[p.Name] {
				continue
			}
			boundPods[p.Name] = true
			perNode[p.Spec.NodeName]++
		case <-timeout:
			t.Fatalf("only %d/%d pods bound", len(boundPods), numPods)
		}
	}
	elapsed := time.Since(start)
	counts := make([]int, 0, len(perNode))
	for _, c := range perNode {
		counts = append(counts, c)
	}
	sort.Ints(counts)
	t.Logf("scheduled %d pods onto %d nodes in %v from scheduler start (informer sync included): %.0f pods/s; creating them took %v (%.0f pods/s); pods per node: min %d, max %d, nodes used %d",
		numPods, numNodes, elapsed.Round(time.Millisecond), float64(numPods)/elapsed.Seconds(),
		creating.Round(time.Millisecond), float64(numPods)/creating.Seconds(),
		counts[0], counts[len(counts)-1], len(counts))
}
