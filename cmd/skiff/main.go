// Command skiff is a Kubernetes-compatible container orchestrator in one
// binary: `skiff server` runs the control plane; more subcommands join
// nodes and manage images.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/images"
)

func main() {
	// The built-in images run this same binary as /pause and /agnhost.
	if run, ok := images.Multicall(os.Args[0]); ok {
		os.Exit(run(os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "skiff",
		Short: "A lean, Kubernetes-compatible container orchestrator in one binary",
		Long: `skiff runs a Kubernetes-compatible cluster from one binary.

  skiff server              run the control plane (API server on :6443, embedded
                            etcd, controllers, scheduler, image registry) and a
                            node agent on this machine
  skiff agent               join this machine to a cluster as a node
  skiff hollow-nodes        run many simulated nodes for scale tests
  skiff scheduler           run the scheduler on its own
  skiff controller-manager  run the controllers on their own
  skiff image import|ls     load image archives into / list the local registry
  skiff bench               measure a cluster's API and pod startup latency
                            against Kubernetes' SLOs
  skiff version             print the version

The real kubectl and client-go work against it unchanged:
  export KUBECONFIG=/var/lib/skiff/admin.kubeconfig; kubectl get ns`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCommand(), newSchedulerCommand(), newControllerManagerCommand(), newAgentCommand(), newHollowNodesCommand(), newImageCommand(), newClusterCommand(), newBenchCommand(), newVersionCommand())
	return root
}
