package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/cluster"
)

// newClusterCommand builds `skiff cluster create|delete`: a local
// multi-node cluster on this machine, one network namespace per node.
func newClusterCommand() *cobra.Command {
	var name, dataDir, logLevel string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Make or delete a local multi-node cluster on this machine (like kind, without Docker)",
		Long: `skiff cluster makes a cluster of several nodes on this one machine. Each node
is a network namespace with its own address on a bridge the host owns, and runs
its own skiff process: the first the server (and a node), the others agents,
each with its own containerd, data directory and cgroup root. Needs root.

  skiff cluster create --nodes 3
  kubectl --kubeconfig /var/lib/skiff/clusters/skiff/kubeconfig get nodes
  skiff cluster delete

delete leaves the host as it was: no process, namespace, link, nftables table,
mount, cgroup or file of the cluster remains.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&name, "name", cluster.DefaultName, "cluster name")
	pf.StringVar(&dataDir, "data-dir", "", "cluster state, node data and logs (default "+cluster.DefaultRootDir+"/NAME)")
	pf.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	logger := func() (*slog.Logger, error) {
		var level slog.Level
		if err := level.UnmarshalText([]byte(logLevel)); err != nil {
			return nil, err
		}
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
	}
	dir := func() string {
		if dataDir != "" {
			return dataDir
		}
		return filepath.Join(cluster.DefaultRootDir, name)
	}

	var cfg cluster.Config
	var timeout time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a cluster of --nodes nodes and wait until every node is Ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logger()
			if err != nil {
				return err
			}
			cfg.Name, cfg.DataDir, cfg.ReadyTimeout, cfg.Logger = name, dir(), timeout, log
			c, err := cluster.Create(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %q is ready: %d nodes, API server %s\n\n  kubectl --kubeconfig %s get nodes\n\nlogs: %s/*.log; delete it with: skiff cluster delete --name %s\n",
				c.Name, len(c.Nodes), c.ServerURL, c.Kubeconfig, c.DataDir, c.Name)
			return nil
		},
	}
	f := create.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 1, "number of nodes, the server's own included")
	f.StringVar(&cfg.Subnet, "subnet", cluster.DefaultSubnet, "IPv4 subnet joining the nodes (the host takes its first address)")
	f.StringSliceVar(&cfg.ServerArgs, "server-arg", nil, "extra flag for `skiff server` (repeatable)")
	f.StringSliceVar(&cfg.AgentArgs, "agent-arg", nil, "extra flag for each `skiff agent` (repeatable)")
	f.DurationVar(&timeout, "timeout", 3*time.Minute, "how long to wait for every node to be Ready")

	del := &cobra.Command{
		Use:   "delete",
		Short: "Stop every node and remove everything the cluster made",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logger()
			if err != nil {
				return err
			}
			c, err := cluster.Load(dir(), log)
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %q deleted\n", c.Name)
			return nil
		},
	}
	cmd.AddCommand(create, del)
	return cmd
}
