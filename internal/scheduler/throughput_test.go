package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
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
	numNodes, numPods := envInt(t, "SKIFF_THROUGHPUT_NODES", 500), envInt(t, "SKIFF_THROUGHPUT_PODS", 1000)
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
	rv := list.ResourceVersion
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { w.Stop() }()
	memProfile := os.Getenv("SKIFF_THROUGHPUT_MEMPROFILE")
	writeHeapProfile(t, memProfile, ".before")
	stopProfile := startCPUProfile(t, os.Getenv("SKIFF_THROUGHPUT_CPUPROFILE"))
	start := time.Now()
	startScheduler(t, cs, scheduler.Config{})
	perNode := map[string]int{}
	boundPods := map[string]bool{}
	timeout := time.After(4 * time.Minute)
	for len(boundPods) < numPods {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				// The server ends a watch that falls behind; resume
				// where it stopped, as an informer would.
				if w, err = cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: rv}); err != nil {
					t.Fatalf("resuming the watch after %d bindings: %v", len(boundPods), err)
				}
				continue
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				t.Fatalf("watch event %s: %v", ev.Type, ev.Object)
			}
			rv = p.ResourceVersion
			if p.Spec.NodeName == "" || boundPods[p.Name] {
				continue
			}
			boundPods[p.Name] = true
			perNode[p.Spec.NodeName]++
		case <-timeout:
			t.Fatalf("only %d/%d pods bound", len(boundPods), numPods)
		}
	}
	elapsed := time.Since(start)
	stopProfile()
	writeHeapProfile(t, memProfile, "")
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

// envInt reads a positive count from the environment, def when unset.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// startCPUProfile profiles the whole process (API server, etcd and
// scheduler alike) into path until the returned func is called; an empty
// path profiles nothing. It lets a profile cover the scheduling phase
// only, without the setup. (SKIFF_THROUGHPUT_CPUPROFILE and
// SKIFF_THROUGHPUT_MEMPROFILE name the files; SKIFF_THROUGHPUT_NODES and
// SKIFF_THROUGHPUT_PODS scale the run.)
func startCPUProfile(t *testing.T, path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// writeHeapProfile writes the heap profile to path+suffix (nothing for an
// empty path). Allocations during the scheduling phase are the difference
// between the profile after it and the ".before" one
// (go tool pprof -sample_index=alloc_space -diff_base path.before path).
func writeHeapProfile(t *testing.T, path, suffix string) {
	if path == "" {
		return
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}
