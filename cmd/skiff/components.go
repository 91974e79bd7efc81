package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/app"
)

// newComponentCommand builds `skiff scheduler` and `skiff
// controller-manager`: the same components `skiff server` runs, as their
// own processes against any API server, under leader election.
func newComponentCommand(use, short string, run func(cmd *cobra.Command, kubeconfig string, log *slog.Logger) error) *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", use)
			return run(cmd, kubeconfig, log)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server to work against")
	return cmd
}

func newSchedulerCommand() *cobra.Command {
	return newComponentCommand("scheduler", "Run the scheduler on its own (leader-elected on kube-system/kube-scheduler)",
		func(cmd *cobra.Command, kubeconfig string, log *slog.Logger) error {
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			return app.RunScheduler(cmd.Context(), cfg, log)
		})
}

func newControllerManagerCommand() *cobra.Command {
	clusterCIDR := "10.42.0.0/16"
	cmd := newComponentCommand("controller-manager", "Run the controllers on their own (leader-elected on kube-system/kube-controller-manager)",
		func(cmd *cobra.Command, kubeconfig string, log *slog.Logger) error {
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			_, cidr, err := net.ParseCIDR(clusterCIDR)
			if err != nil {
				return fmt.Errorf("--cluster-cidr: %w", err)
			}
			return app.RunControllerManager(cmd.Context(), cfg, cidr, log)
		})
	cmd.Flags().StringVar(&clusterCIDR, "cluster-cidr", clusterCIDR, "range of pod IPs (a /24 per node)")
	return cmd
}
