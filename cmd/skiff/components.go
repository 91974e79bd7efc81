package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/app"
	"github.com/skiff-sh/skiff/internal/metrics"
)

// newComponentCommand builds `skiff scheduler` and `skiff
// controller-manager`: the same components `skiff server` runs, as their
// own processes against any API server, under leader election.
func newComponentCommand(use, short, metricsAddr string, run func(cmd *cobra.Command, kubeconfig string, opts app.ComponentOptions) error) *cobra.Command {
	var kubeconfig string
	var le app.LeaderElection
	profiling := true
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", use)
			if metricsAddr != "" {
				ln, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return fmt.Errorf("--metrics-bind-address: %w", err)
				}
				srv := &http.Server{Handler: componentMux(profiling), ReadHeaderTimeout: 10 * time.Second}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Close()
				log.Info("serving metrics", "address", ln.Addr().String())
			}
			return run(cmd, kubeconfig, app.ComponentOptions{LeaderElection: le, Log: log})
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server to work against")
	cmd.Flags().DurationVar(&le.LeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"how long a standby waits after the leader's last renewal before taking over")
	cmd.Flags().DurationVar(&le.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"how long the leader keeps retrying a renewal before it stops leading; less than the lease duration")
	cmd.Flags().DurationVar(&le.RetryPeriod, "leader-elect-retry-period", 2*time.Second,
		"how often to try to acquire or renew the lease")
	cmd.Flags().StringVar(&metricsAddr, "metrics-bind-address", metricsAddr,
		"where to serve Prometheus /metrics over plain HTTP (keep it on loopback); empty disables")
	cmd.Flags().BoolVar(&profiling, "profiling", profiling, "also serve Go profiles at /debug/pprof/ on the metrics address")
	return cmd
}

// componentMux serves a component's /metrics and, with profiling, Go's
// profiles under /debug/pprof/.
func componentMux(profiling bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler())
	if profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func newSchedulerCommand() *cobra.Command {
	return newComponentCommand("scheduler", "Run the scheduler on its own (leader-elected on kube-system/kube-scheduler)", "127.0.0.1:10259",
		func(cmd *cobra.Command, kubeconfig string, opts app.ComponentOptions) error {
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			return app.RunScheduler(cmd.Context(), cfg, opts)
		})
}

func newControllerManagerCommand() *cobra.Command {
	clusterCIDR := "10.42.0.0/16"
	var grace time.Duration
	cmd := newComponentCommand("controller-manager", "Run the controllers on their own (leader-elected on kube-system/kube-controller-manager)", "127.0.0.1:10257",
		func(cmd *cobra.Command, kubeconfig string, opts app.ComponentOptions) error {
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			_, cidr, err := net.ParseCIDR(clusterCIDR)
			if err != nil {
				return fmt.Errorf("--cluster-cidr: %w", err)
			}
			opts.ClusterCIDR, opts.NodeMonitorGracePeriod = cidr, grace
			return app.RunControllerManager(cmd.Context(), cfg, opts)
		})
	cmd.Flags().StringVar(&clusterCIDR, "cluster-cidr", clusterCIDR, "range of pod IPs (a /24 per node)")
	cmd.Flags().DurationVar(&grace, "node-monitor-grace-period", 40*time.Second,
		"how long a node may miss heartbeats before it is marked Unknown and its pods are evicted")
	return cmd
}
