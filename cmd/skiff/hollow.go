package main

import (
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // --profiling-address
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/app"
)

// newHollowNodesCommand builds `skiff hollow-nodes`: scale-test nodes.
func newHollowNodesCommand() *cobra.Command {
	var cfg app.HollowConfig
	var kubeconfig, logLevel, profilingAddr string
	cmd := &cobra.Command{
		Use:   "hollow-nodes",
		Short: "Run many simulated nodes (the real kubelet on an in-memory runtime) for scale tests",
		Long: `skiff hollow-nodes registers --count nodes with the cluster and runs the real
kubelet code for each on an in-memory container runtime, many per process, the
way kubemark and kwok stand in for machines. Pods scheduled to them go through
the whole kubelet lifecycle (status, probes off, graceful deletion) without
any container.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			if profilingAddr != "" {
				// The default mux holds net/http/pprof's handlers.
				ln, err := net.Listen("tcp", profilingAddr)
				if err != nil {
					return err
				}
				defer ln.Close()
				go func() { _ = http.Serve(ln, nil) }()
			}
			return app.RunHollowNodes(cmd.Context(), restCfg, cfg)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Count, "count", 10, "how many nodes")
	f.StringVar(&cfg.Prefix, "name-prefix", "hollow-", "node names are <prefix><index>")
	f.StringVar(&cfg.CPU, "cpu", "4", "each node's cpu capacity")
	f.StringVar(&cfg.Memory, "memory", "16Gi", "each node's memory capacity")
	f.StringVar(&cfg.Pods, "max-pods", "110", "each node's pod capacity")
	f.IntVar(&cfg.NodesPerConnection, "nodes-per-connection", 1, "how many nodes share one client and connection to the API server (1: each its own, as real kubelets)")
	f.StringToStringVar(&cfg.Labels, "node-labels", nil, "extra labels for every node (k=v,...)")
	f.StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster (admin)")
	f.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	f.StringVar(&profilingAddr, "profiling-address", "", "serve Go profiles at http://ADDRESS/debug/pprof/ (e.g. 127.0.0.1:6060; off when empty)")
	return cmd
}
