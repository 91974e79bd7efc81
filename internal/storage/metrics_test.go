package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// TestMetrics checks that a store counts and times its etcd requests per
// operation under its resource, and reports its object count.
func TestMetrics(t *testing.T) {
	client, prefix := etcdtest.Start(t)
	reg := prometheus.NewRegistry()
	cfg := storagetest.StoreConfig()
	cfg.KeyPrefix = prefix + "/pods/"
	cfg.Metrics = storage.NewMetrics(reg)
	cfg.Resource = "pods"
	s := &sharedStore{Interface: storage.NewStore(client, cfg), client: client, prefix: prefix + "/pods/"}

	s.create(t, "a", "n1")
	s.create(t, "b", "n1")
	if err := s.Get(context.Background(), s.key("a"), storage.GetOptions{}, &corev1.Pod{}); err != nil {
		t.Fatal(err)
	}
	s.relabel(t, "a", "k", "v")
	if err := s.Delete(context.Background(), s.key("b"), &corev1.Pod{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A consistent list starts the watch cache, which lists from etcd.
	list := &corev1.PodList{}
	if err := s.List(context.Background(), s.prefix, storage.ListOptions{Recursive: true}, list); err != nil {
		t.Fatal(err)
	}

	families := gather(t, reg)
	for op, min := range map[string]float64{"create": 2, "get": 1, "update": 1, "delete": 1, "list": 1} {
		if n := sample(families, "etcd_requests_total", op); n < min {
			t.Errorf("etcd_requests_total{operation=%q,type=\"pods\"} = %v, want at least %v", op, n, min)
		}
		h := families["etcd_request_duration_seconds"]
		if c := histCount(h, op); c != sample(families, "etcd_requests_total", op) {
			t.Errorf("etcd_request_duration_seconds{operation=%q} counted %v requests, etcd_requests_total %v", op, c,
				sample(families, "etcd_requests_total", op))
		}
	}
	if n := sample(families, "etcd_request_errors_total", "create"); n != 0 {
		t.Errorf("etcd_request_errors_total{operation=\"create\"} = %v, want 0", n)
	}

	// The cache's count follows creates and deletes: a and c.
	s.create(t, "c", "n2")
	deadline := time.Now().Add(5 * time.Second)
	for {
		g := gather(t, reg)["apiserver_storage_objects"]
		if g != nil && len(g.Metric) == 1 && g.Metric[0].GetGauge().GetValue() == 2 && g.Metric[0].Label[0].GetValue() == "pods" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("apiserver_storage_objects: %v, want pods=2", g)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// find returns the series of mf with operation op and type "pods".
func find(mf *dto.MetricFamily, op string) *dto.Metric {
	if mf == nil {
		return nil
	}
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["operation"] == op && labels["type"] == "pods" {
			return m
		}
	}
	return nil
}

func sample(families map[string]*dto.MetricFamily, name, op string) float64 {
	if m := find(families[name], op); m != nil {
		return m.GetCounter().GetValue()
	}
	return -1
}

func histCount(mf *dto.MetricFamily, op string) float64 {
	if m := find(mf, op); m != nil {
		return float64(m.GetHistogram().GetSampleCount())
	}
	return -1
}
