package clusterbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Options say how much to measure.
type Options struct {
	// Ops is the number of calls per verb, at each concurrency.
	Ops int
	// Concurrency is the number of callers of the second round of API
	// calls (the first has one).
	Concurrency int
	// Pods to start, at PodRate per second; 0 measures the API only.
	Pods    int
	PodRate float64
	Image   string
	// Timeout bounds each wait: for the pods to run, for the namespace
	// to go.
	Timeout time.Duration
	// Log, when set, gets a line per phase.
	Log io.Writer
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Validate rejects options that cannot make a measurement.
func (o Options) Validate() error {
	switch {
	case o.Ops < 1:
		return fmt.Errorf("--ops must be at least 1, not %d", o.Ops)
	case o.Concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1, not %d", o.Concurrency)
	case o.Pods < 0:
		return fmt.Errorf("--pods must not be negative, not %d", o.Pods)
	case o.Pods > 0 && o.PodRate <= 0:
		return fmt.Errorf("--pod-rate must be positive, not %g", o.PodRate)
	case o.Pods > 0 && o.Image == "":
		return fmt.Errorf("--image must name an image")
	case o.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive, not %v", o.Timeout)
	}
	return nil
}

// Result is one run of the benchmark.
type Result struct {
	Server    string      `json:"server"`
	Version   string      `json:"version"`
	Nodes     int         `json:"nodes"`
	Namespace string      `json:"namespace"`
	Started   time.Time   `json:"started"`
	API       []APIResult `json:"api"`
	Pods      *PodResult  `json:"pod_startup,omitempty"`
	SLOs      []Verdict   `json:"slos"`
	// Deleted says the namespace of the run, and all it held, is gone.
	Deleted bool `json:"namespace_deleted"`
}

// Run measures the cluster behind cs (whose address is host): API calls
// on ConfigMaps in a namespace of its own, one at a time and
// o.Concurrency at a time, first pages of the cluster's pods, then
// o.Pods pods' startup. It deletes the namespace, and everything in it,
// before it returns, also when ctx ends or a phase fails.
func Run(ctx context.Context, cs kubernetes.Interface, host string, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Server: host, Started: time.Now().UTC()}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reaching the API server %s: %w", host, err)
	}
	res.Version = v.GitVersion
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the nodes: %w", err)
	}
	res.Nodes = len(nodes.Items)

	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "skiff-bench-", Labels: map[string]string{podLabel: "run"}}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating the benchmark's namespace: %w", err)
	}
	res.Namespace = ns.Name
	o.logf("namespace %s", ns.Name)
	defer func() {
		o.logf("deleting namespace %s", ns.Name)
		res.Deleted = deleteNamespace(cs, ns.Name, o.Timeout) == nil
	}()

	rounds := []int{1}
	if o.Concurrency > 1 {
		rounds = append(rounds, o.Concurrency)
	}
	for _, conc := range rounds {
		o.logf("API calls: %d per verb, %d at a time", o.Ops, conc)
		res.API = append(res.API, apiCalls(ctx, cs, ns.Name, fmt.Sprintf("c%d", conc), o.Ops, conc)...)
	}
	res.API = append(res.API, clusterList(ctx, cs, max(o.Ops/10, 3)))
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if o.Pods > 0 {
		if res.Pods, err = podStartup(ctx, cs, ns.Name, nodes.Items, o); err != nil {
			return res, fmt.Errorf("pod startup: %w", err)
		}
	}
	res.SLOs = verdicts(res)
	for _, a := range res.API {
		if a.Errors > 0 {
			return res, fmt.Errorf("%d of %d %s %s calls failed; the first: %s", a.Errors, a.N, a.Verb, a.Resource, a.FirstError)
		}
	}
	return res, nil
}

// deleteNamespace deletes ns and waits, up to timeout, until it is gone.
func deleteNamespace(cs kubernetes.Interface, ns string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	err := poll(context.Background(), 200*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("namespace %s is still there after %v", ns, timeout)
	}
	return err
}

// SLOSource is where Kubernetes defines the SLOs the verdicts use.
const SLOSource = "https://github.com/kubernetes/community/blob/master/sig-scalability/slos/slos.md"

// Verdict compares the worst p99 of one SLO's calls with its limit.
type Verdict struct {
	SLO     string  `json:"slo"`
	LimitMS float64 `json:"limit_ms"`
	// P99MS is the highest p99 among the measured calls the SLO covers.
	P99MS float64 `json:"p99_ms"`
	Met   bool    `json:"met"`
}

// verdicts holds the measurement to Kubernetes' SLOs: mutating calls
// per (resource, verb) ≤ 1 s; reads ≤ 1 s for one object, 5 s for a
// namespace, 30 s for the cluster; stateless pod startup ≤ 5 s; each at
// the 99th percentile. Upstream's window is a cluster-day; this is the
// run's sample.
func verdicts(r *Result) []Verdict {
	worst := func(keep func(APIResult) bool) (float64, bool) {
		p, any := 0.0, false
		for _, a := range r.API {
			if keep(a) {
				p, any = max(p, a.P99), true
			}
		}
		return p, any
	}
	slos := []struct {
		name  string
		limit float64
		keep  func(APIResult) bool
	}{
		{"mutating API calls (per resource and verb)", 1000, APIResult.Mutating},
		{"reads of one object", 1000, func(a APIResult) bool { return !a.Mutating() && a.Scope == ScopeResource }},
		{"reads of a namespace", 5000, func(a APIResult) bool { return !a.Mutating() && a.Scope == ScopeNamespace }},
		{"reads of the cluster", 30000, func(a APIResult) bool { return !a.Mutating() && a.Scope == ScopeCluster }},
	}
	var out []Verdict
	for _, s := range slos {
		if p, ok := worst(s.keep); ok {
			out = append(out, Verdict{SLO: s.name, LimitMS: s.limit, P99MS: p, Met: p <= s.limit})
		}
	}
	if r.Pods != nil {
		out = append(out, Verdict{SLO: "pod startup (stateless, image pull excluded)", LimitMS: 5000, P99MS: r.Pods.Startup.P99, Met: r.Pods.Startup.P99 <= 5000})
	}
	return out
}

// Print writes the result as tables.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "cluster %s (Kubernetes %s, %d nodes), namespace %s\n\n", r.Server, r.Version, r.Nodes, r.Namespace)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "API CALL\tSCOPE\tCALLERS\tN\tP50 ms\tP99 ms\tMAX ms\tPER s\tERRORS\t")
	for _, a := range r.API {
		fmt.Fprintf(tw, "%s %s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%d\t\n", a.Verb, a.Resource, a.Scope, a.Concurrency, a.N, a.P50, a.P99, a.Max, a.PerSecond, a.Errors)
	}
	tw.Flush()
	if p := r.Pods; p != nil {
		fmt.Fprintf(w, "\n%d pods of %s at %g/s (image pulled beforehand on %d nodes)\n", p.Startup.N, p.Image, p.Rate, p.WarmedNodes)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "POD\tP50 ms\tP99 ms\tMAX ms\t")
		fmt.Fprintf(tw, "create → scheduled\t%.1f\t%.1f\t%.1f\t\n", p.Scheduled.P50, p.Scheduled.P99, p.Scheduled.Max)
		fmt.Fprintf(tw, "create → running (startup)\t%.1f\t%.1f\t%.1f\t\n", p.Startup.P50, p.Startup.P99, p.Startup.Max)
		tw.Flush()
	}
	if len(r.SLOs) > 0 {
		fmt.Fprintf(w, "\nKubernetes SLOs (p99; %s)\n", SLOSource)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SLO\tLIMIT\tP99\tMET")
		for _, v := range r.SLOs {
			fmt.Fprintf(tw, "%s\t%s\t%.1f ms\t%s\n", v.SLO, time.Duration(v.LimitMS)*time.Millisecond, v.P99MS, yesNo(v.Met))
		}
		tw.Flush()
	}
	if !r.Deleted {
		fmt.Fprintf(w, "\nnamespace %s is not deleted yet; delete it with: kubectl delete namespace %s\n", r.Namespace, r.Namespace)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
