package clusterbench_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/skiff-sh/skiff/internal/app"
	"github.com/skiff-sh/skiff/internal/clusterbench"
	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/test/framework"
)

func TestSampleCountsFailures(t *testing.T) {
	boom := errors.New("boom")
	lat, failed, first := clusterbench.Sample(10, 3, func(i int) error {
		time.Sleep(time.Millisecond)
		if i%4 == 0 {
			return boom
		}
		return nil
	})
	if len(lat) != 10 || failed != 3 || !errors.Is(first, boom) {
		t.Fatalf("got %d latencies, %d failed, first %v; want 10, 3, boom", len(lat), failed, first)
	}
	for i, d := range lat {
		if d < time.Millisecond {
			t.Errorf("call %d took %v, less than its sleep", i, d)
		}
	}
	s := clusterbench.Summarize(lat, 0)
	if s.N != 10 || s.P50 < 1 || s.P99 < s.P50 || s.Max < s.P99 {
		t.Errorf("summary %+v is not ordered", s)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{1, 99, 1}, {3, 99, 3}, {3, 50, 2}, {20, 99, 20}, {100, 99, 99}, {100, 50, 50}, {200, 99, 198}, {200, 0, 1}, {200, 100, 200},
	} {
		if got := clusterbench.Percentile(d[:c.n], c.p); got != c.want {
			t.Errorf("p%v of 1..%d = %d, want %d", c.p, c.n, got, c.want)
		}
	}
	if got := clusterbench.Percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
}

func TestValidate(t *testing.T) {
	good := clusterbench.Options{Ops: 1, Concurrency: 1, Pods: 1, PodRate: 1, Image: "pause", Timeout: time.Second}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for name, mutate := range map[string]func(*clusterbench.Options){
		"--ops":         func(o *clusterbench.Options) { o.Ops = 0 },
		"--concurrency": func(o *clusterbench.Options) { o.Concurrency = 0 },
		"--pods":        func(o *clusterbench.Options) { o.Pods = -1 },
		"--pod-rate":    func(o *clusterbench.Options) { o.PodRate = 0 },
		"--image":       func(o *clusterbench.Options) { o.Image = "" },
		"--timeout":     func(o *clusterbench.Options) { o.Timeout = 0 },
	} {
		o := good
		mutate(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming the flag", name, err)
		}
	}
	apiOnly := good
	apiOnly.Pods, apiOnly.PodRate, apiOnly.Image = 0, 0, ""
	if err := apiOnly.Validate(); err != nil {
		t.Errorf("--pods 0 needs no rate or image: %v", err)
	}
}

// TestRun measures an in-process control plane with two hollow nodes
// (the real kubelet on the in-memory runtime): every verb at both
// concurrencies, the pods' startup, the SLO verdicts, and the namespace
// gone at the end.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	s := framework.StartServer(t, framework.Options{Components: true})
	cs := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hollowCtx, stopHollow := context.WithCancel(ctx)
	hollowDone := make(chan error, 1)
	go func() {
		hollowDone <- app.RunHollowNodes(hollowCtx, s.RestConfig(t), app.HollowConfig{Count: 2, Prefix: "bench-",
			Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	}()
	defer func() { stopHollow(); <-hollowDone }()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		for i := 0; err == nil && i < len(l.Items); i++ {
			if controllerutil.IsNodeReady(&l.Items[i]) {
				ready++
			}
		}
		return ready == 2, nil
	}); err != nil {
		t.Fatalf("two Ready nodes: %v", err)
	}

	var log bytes.Buffer
	res, err := clusterbench.Run(ctx, cs, s.URL, clusterbench.Options{Ops: 20, Concurrency: 4, Pods: 6, PodRate: 20,
		Image: "registry.k8s.io/pause:3.10", Timeout: time.Minute, Log: &log})
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	if res.Nodes != 2 || !strings.HasPrefix(res.Namespace, "skiff-bench-") || res.Version == "" {
		t.Errorf("cluster %d nodes, namespace %q, version %q", res.Nodes, res.Namespace, res.Version)
	}
	type key struct {
		verb string
		conc int
	}
	got := map[key]clusterbench.APIResult{}
	for _, a := range res.API {
		got[key{a.Verb + " " + a.Resource, a.Concurrency}] = a
		if a.Errors != 0 || a.P50 <= 0 || a.P99 < a.P50 || a.Max < a.P99 {
			t.Errorf("%s %s x%d: %+v", a.Verb, a.Resource, a.Concurrency, a)
		}
	}
	for _, conc := range []int{1, 4} {
		for verb, n := range map[string]int{"create": 20, "get": 20, "list": 3, "update": 20, "patch": 20, "delete": 20} {
			if a, ok := got[key{verb + " configmaps", conc}]; !ok || a.N != n {
				t.Errorf("%s configmaps x%d: %+v (present %v), want %d calls", verb, conc, a, ok, n)
			}
		}
	}
	if a := got[key{"list pods", 1}]; a.N != 3 || a.Scope != clusterbench.ScopeCluster {
		t.Errorf("cluster list: %+v", a)
	}
	p := res.Pods
	if p == nil || p.Startup.N != 6 || p.Scheduled.N != 6 || p.WarmedNodes != 2 {
		t.Fatalf("pod startup: %+v", p)
	}
	if p.Scheduled.P50 > p.Startup.P50 || p.Startup.P50 <= 0 {
		t.Errorf("scheduling (p50 %.1f ms) cannot take longer than startup (p50 %.1f ms)", p.Scheduled.P50, p.Startup.P50)
	}
	if len(res.SLOs) != 5 {
		t.Fatalf("SLO verdicts: %+v, want 5", res.SLOs)
	}
	for _, v := range res.SLOs {
		if v.P99MS <= 0 || v.Met != (v.P99MS <= v.LimitMS) {
			t.Errorf("verdict %+v", v)
		}
	}
	if !res.Deleted {
		t.Error("the run says its namespace is not deleted")
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, res.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after the run: %v, want NotFound", res.Namespace, err)
	}
	var out bytes.Buffer
	res.Print(&out)
	t.Logf("skiff bench on an in-process control plane and two hollow nodes:\n%s", out.String())
	for _, want := range []string{"create configmaps", "list pods", "create → running (startup)", "pod startup (stateless, image pull excluded)", clusterbench.SLOSource} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunWithoutNodes fails clearly when no node can run the pods, says
// how to measure the API only, and still deletes its namespace.
func TestRunWithoutNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	s := framework.StartServer(t, framework.Options{Components: true})
	cs := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := clusterbench.Run(ctx, cs, s.URL, clusterbench.Options{Ops: 5, Concurrency: 2, Pods: 1, PodRate: 1, Image: "pause", Timeout: 30 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "--pods 0") {
		t.Fatalf("got %v, want an error that says to run with --pods 0", err)
	}
	if res == nil || !res.Deleted {
		t.Fatalf("result %+v: the namespace should be deleted", res)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, res.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after the run: %v, want NotFound", res.Namespace, err)
	}

	res, err = clusterbench.Run(ctx, cs, s.URL, clusterbench.Options{Ops: 5, Concurrency: 2, Timeout: 30 * time.Second})
	if err != nil || res.Pods != nil || len(res.SLOs) != 4 {
		t.Fatalf("--pods 0: %v, %+v", err, res)
	}
}
