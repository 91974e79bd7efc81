package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/app"
)

// newAgentCommand builds `skiff agent`: make this machine a node of the
// cluster at --server.
func newAgentCommand() *cobra.Command {
	var cfg app.AgentConfig
	var logLevel string
	var labels map[string]string
	var cleanup bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join this machine to a cluster as a node (kubelet, containerd, pod network)",
		Long: `skiff agent joins this machine to the cluster whose server printed the token:

  skiff agent --server https://SERVER:6443 --token K10...

It starts a containerd of its own (state under --data-dir, never touching a
system containerd), sets up the pod network from the node's pod CIDR, and runs
the kubelet and its HTTPS server on --kubelet-port. Needs root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			cfg.Labels = labels
			if cleanup {
				return app.CleanupAgent(cmd.Context(), cfg)
			}
			return app.RunAgent(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ServerURL, "server", "", "the API server, https://HOST:6443")
	f.StringVar(&cfg.Token, "token", os.Getenv("SKIFF_TOKEN"), "join token the server printed (or $SKIFF_TOKEN)")
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff/agent", "node state: identity, containerd, kubelet, pod logs")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of the Node (default: the host name)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "the node's InternalIP (default: the source address of the default route)")
	f.StringVar(&cfg.ContainerRuntimeEndpoint, "container-runtime-endpoint", "",
		"use this existing CRI socket (unix://...) instead of starting containerd")
	f.IntVar(&cfg.KubeletPort, "kubelet-port", 10250, "port of the kubelet's HTTPS server")
	f.StringVar(&cfg.CgroupRoot, "cgroup-root", "/kubepods", "cgroupfs parent of the node's pods (one per node when nodes share a machine)")
	f.BoolVar(&cfg.DisableProxy, "disable-proxy", false, "run no Service proxy (nftables) on this node")
	f.IntVar(&cfg.ImageGCHighThresholdPercent, "image-gc-high-threshold", 85,
		"image filesystem usage percent that starts image garbage collection (100: never)")
	f.IntVar(&cfg.ImageGCLowThresholdPercent, "image-gc-low-threshold", 80, "usage percent image garbage collection frees down to")
	f.DurationVar(&cfg.ImageMinimumGCAge, "minimum-image-gc-age", 2*time.Minute, "an unused image is kept at least this long")
	f.DurationVar(&cfg.ImageMaximumGCAge, "image-maximum-gc-age", 0, "an image unused this long is removed whatever the usage (0: never)")
	f.StringToStringVar(&labels, "node-labels", nil, "extra labels for the Node (k=v,...)")
	f.BoolVar(&cleanup, "cleanup", false,
		"instead of running: remove every pod, mount, cgroup, bridge, nftables table and the data dir a stopped agent left")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}
