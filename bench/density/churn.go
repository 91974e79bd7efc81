package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
)

// churn is the churn run: every Deployment of plan is rolled to a new
// pod template, paced at rate pods per second as creation was, while the
// hollow nodes keep heart-beating; it waits until every rollout is
// complete (all replicas updated and available, no old pods left) and
// reports how long that took (with CPU profiles halfway and the server's
// execution traces, given a profiler), the API latency meanwhile, the startup of
// the replacement pods, and how many nodes were Ready at the end.
func churn(ctx context.Context, src metricsSource, w *podWatch, prof *profiler, plan []int, rate int, timeout time.Duration) (map[string]any, error) {
	cs := src.cs
	before, err := scrape(ctx, src)
	if err != nil {
		return nil, err
	}
	fmt.Printf("  churn: rolling %d Deployments at %d pods/s\n", len(plan), rate)
	start := time.Now()
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{"bench.skiff.sh/churn":%q}}}}}`, start.Format(time.RFC3339Nano))
	rolled, total := 0, 0
	for _, replicas := range plan {
		total += replicas
	}
	profiled := false
	traced := 0
	for i, replicas := range plan {
		name := fmt.Sprintf("d%d-%d", replicas, i)
		if _, err := cs.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return nil, fmt.Errorf("rolling %s: %w", name, err)
		}
		rolled += replicas
		if !profiled && rolled >= total/2 {
			profiled = true
			go prof.cpu(ctx, "churn", 30*time.Second)
		}
		// Execution traces at a quarter, five eighths and seven eighths
		// of the roll, clear of the CPU profile: they show each
		// goroutine's time waiting for a processor apart from its time
		// blocked (go tool trace -pprof=sched, -pprof=sync).
		if traced < len(traceAt) && rolled >= total*traceAt[traced]/8 {
			go prof.trace(ctx, fmt.Sprintf("churn%d", traceAt[traced]), 5*time.Second)
			traced++
		}
		if due := start.Add(time.Duration(float64(rolled) / float64(rate) * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
	}
	patched := time.Since(start)
	deadline := time.Now().Add(timeout)
	for {
		done, err := rolloutsComplete(ctx, cs)
		if err != nil {
			return nil, err
		}
		if done == len(plan) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("churn: %d of %d rollouts complete after %v", done, len(plan), time.Since(start).Round(time.Second))
		}
		fmt.Printf("  churn: %d of %d rollouts complete\n", done, len(plan))
		time.Sleep(5 * time.Second)
	}
	elapsed := time.Since(start)
	after, err := scrape(ctx, src)
	if err != nil {
		return nil, err
	}
	ready, err := readyNodes(ctx, cs)
	if err != nil {
		return nil, err
	}
	fmt.Printf("  churn: all %d rollouts complete after %v; %d nodes Ready\n", len(plan), elapsed.Round(time.Millisecond), ready)
	return map[string]any{
		"deployments":               len(plan),
		"pods_replaced":             rolled,
		"patch_phase_ms":            patched.Milliseconds(),
		"time_to_all_rolled_out_ms": elapsed.Milliseconds(),
		"pods_replaced_per_second":  float64(rolled) / elapsed.Seconds(),
		"replacement_pod_startup":   benchutil.Summarize(w.startupLatenciesSince(start), 0),
		"nodes_ready_after":         ready,
		"api_latency":               latencies(before.api, after.api),
		"etcd_latency":              latencies(before.etcd, after.etcd),
		"etcd_disk":                 diskSummary(before.disk, after.disk),
		"queue_wait":                latencies(before.queue, after.queue),
		"api_failures":              increases(before.failed, after.failed),
	}, nil
}

// rolloutsComplete counts the Deployments whose rollout is complete, as
// `kubectl rollout status` judges it.
func rolloutsComplete(ctx context.Context, cs kubernetes.Interface) (int, error) {
	l, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	done := 0
	for _, d := range l.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		if s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want {
			done++
		}
	}
	return done, nil
}

func readyNodes(ctx context.Context, cs kubernetes.Interface) (int, error) {
	l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return 0, err
	}
	ready := 0
	for _, node := range l.Items {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, nil
}

// traceAt are the eighths of the roll at which churn traces the server.
var traceAt = []int{2, 5, 7}
