package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/knftables"

	"github.com/skiff-sh/skiff/bench/internal/benchutil"
	"github.com/skiff-sh/skiff/internal/metrics"
	"github.com/skiff-sh/skiff/internal/proxy"
)

type sizeResult struct {
	Services          int               `json:"services"`
	EndpointsPer      int               `json:"endpoints_per_service"`
	FirstSyncAfterMS  float64           `json:"run_to_first_sync_ms"`
	FullSyncMS        float64           `json:"full_sync_ms"`
	FullSyncApplyMS   float64           `json:"full_sync_nft_ms"`
	Incremental       benchutil.Summary `json:"incremental_sync"`
	EndpointToRule    benchutil.Summary `json:"endpoint_to_rule"`
	MinSyncPeriodMS   float64           `json:"min_sync_period_ms"`
	NFTTransactions   int               `json:"nft_transactions"`
	FullSyncNFTLength int               `json:"full_sync_nft_bytes"`
	FirstPacket       *firstPacket      `json:"first_packet,omitempty"`
	Throughput        *throughput       `json:"throughput,omitempty"`
}

// recorder wraps the real nftables and notes when a transaction that
// mentions a watched string has been committed.
type recorder struct {
	knftables.Interface
	mu      sync.Mutex
	watch   string
	hit     chan time.Time
	runs    []time.Duration
	lengths []int
}

func (r *recorder) Run(ctx context.Context, tx *knftables.Transaction) error {
	t0 := time.Now()
	err := r.Interface.Run(ctx, tx)
	done := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, done.Sub(t0))
	if r.watch != "" || len(r.lengths) == 0 {
		s := tx.String()
		r.lengths = append(r.lengths, len(s))
		if r.watch != "" && err == nil && strings.Contains(s, r.watch) {
			r.watch = ""
			r.hit <- done
		}
	}
	return err
}

func (r *recorder) expect(s string) {
	r.mu.Lock()
	r.watch = s
	r.mu.Unlock()
}

// syncStats reads the proxy's sync histogram: count and sum per mode.
func syncStats() map[string][2]float64 {
	out := map[string][2]float64{}
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "skiff_proxy_sync_proxy_rules_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			mode := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "mode" {
					mode = l.GetValue()
				}
			}
			h := m.GetHistogram()
			out[mode] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
		}
	}
	return out
}

func objects(n, epsPer int) []runtime.Object {
	objs := []runtime.Object{&corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-node"},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.77.1"}}},
	}}
	port, proto, pname := int32(backendPort), corev1.ProtocolTCP, "http"
	for i := range n {
		name := fmt.Sprintf("svc-%05d", i)
		objs = append(objs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: clusterIP(i).String(), Type: corev1.ServiceTypeClusterIP,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		})
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "bench", Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &proto}},
		}
		// Every Service's endpoint j is backend address j: real
		// listeners for the data-plane measurements (topology.go).
		for j := range epsPer {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{backendIP(j)}})
		}
		objs = append(objs, s)
	}
	return objs
}

// runSize measures one size. With dp set it measures the data plane
// too, last, so that its connections do not disturb the sync timings.
func runSize(parent context.Context, n, changes int, dp *dataplane, dpo dataplaneOptions) (sizeResult, error) {
	const epsPer = backendCount
	res := sizeResult{Services: n, EndpointsPer: epsPer}
	real, err := knftables.New(knftables.IPv4Family, proxy.TableName)
	if err != nil {
		return res, err
	}
	rec := &recorder{Interface: real, hit: make(chan time.Time, 1)}
	cs := fake.NewSimpleClientset(objects(n, epsPer)...)
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	minSync := 10 * time.Millisecond
	res.MinSyncPeriodMS = float64(minSync.Milliseconds())
	p, err := proxy.New(proxy.Config{Client: cs, NodeName: "bench-node", ClusterCIDR: cidr, MinSyncPeriod: minSync,
		NFT: rec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return res, err
	}
	defer func() { _ = p.Cleanup() }()
	ctx, cancel := context.WithCancel(parent)
	done := make(chan error, 1)
	before := syncStats()
	start := time.Now()
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	wait := func(mode string, prev map[string][2]float64, timeout time.Duration) (float64, error) {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			now := syncStats()
			if now[mode][0] > prev[mode][0] {
				return (now[mode][1] - prev[mode][1]) / (now[mode][0] - prev[mode][0]) * 1000, nil
			}
			time.Sleep(2 * time.Millisecond)
		}
		return 0, fmt.Errorf("no %s sync within %v", mode, timeout)
	}
	full, err := wait("full", before, 2*time.Minute)
	if err != nil {
		return res, err
	}
	res.FirstSyncAfterMS = float64(time.Since(start).Microseconds()) / 1000
	res.FullSyncMS = full
	rec.mu.Lock()
	if len(rec.runs) > 0 {
		res.FullSyncApplyMS = float64(rec.runs[len(rec.runs)-1].Microseconds()) / 1000
		res.FullSyncNFTLength = rec.lengths[0]
	}
	rec.mu.Unlock()

	var incr, toRule []time.Duration
	slices := cs.DiscoveryV1().EndpointSlices("bench")
	for c := range changes {
		time.Sleep(2 * minSync)
		// Neither the first nor the last Service: the data plane is
		// measured through those, afterwards.
		i := 1 + (c*7919)%(n-2)
		s, err := slices.Get(ctx, fmt.Sprintf("svc-%05d-1", i), metav1.GetOptions{})
		if err != nil {
			return res, err
		}
		addr := fmt.Sprintf("10.42.%d.%d", 250+c/250, c%250+1)
		s.Endpoints[0].Addresses = []string{addr}
		prev := syncStats()
		rec.expect(addr)
		t0 := time.Now()
		if _, err := slices.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return res, err
		}
		select {
		case at := <-rec.hit:
			toRule = append(toRule, at.Sub(t0))
		case <-time.After(30 * time.Second):
			return res, fmt.Errorf("endpoint %s not programmed after 30s", addr)
		}
		ms, err := wait("partial", prev, 30*time.Second)
		if err != nil {
			return res, err
		}
		incr = append(incr, time.Duration(ms*float64(time.Millisecond)))
	}
	res.Incremental = benchutil.Summarize(incr, 0)
	res.EndpointToRule = benchutil.Summarize(toRule, 0)
	rec.mu.Lock()
	res.NFTTransactions = len(rec.runs)
	rec.mu.Unlock()

	if dp != nil {
		if res.FirstPacket, res.Throughput, err = measureDataplane(dp, n, dpo); err != nil {
			return res, fmt.Errorf("data plane: %w", err)
		}
	}
	return res, nil
}
