package main

import (
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/app"
)

func newServerCommand() *cobra.Command {
	var cfg app.ServerConfig
	var logLevel string
	var contentionProfiling bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API server with embedded (or external) etcd",
		Long: `Run the skiff control plane.

On first start skiff creates a cluster CA, a serving certificate, an admin
client certificate and a node join token under --data-dir, and writes
<data-dir>/admin.kubeconfig. Restarts reuse them and recover all state from
etcd. SIGTERM or SIGINT shut it down cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			setContentionProfiling(cfg.Profiling && contentionProfiling)
			srv, err := app.NewServer(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			cmd.Printf("skiff server: API at %s\n", srv.URL)
			cmd.Printf("  kubeconfig: %s\n", srv.KubeconfigPath)
			cmd.Printf("  join a node: skiff agent --server %s --token %s\n", srv.JoinURL(), srv.JoinToken)
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff", "directory for etcd data, certificates, token and admin.kubeconfig")
	f.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.IntVar(&cfg.SecurePort, "secure-port", 6443, "HTTPS port of the API server")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "", "address other nodes reach this server at (default: first host IPv4)")
	f.StringSliceVar(&cfg.TLSSANs, "tls-san", nil, "extra host names or IPs for the serving certificate")
	f.StringSliceVar(&cfg.EtcdServers, "etcd-servers", nil, "external etcd endpoints (comma separated); empty runs etcd embedded")
	f.StringVar(&cfg.EtcdCAFile, "etcd-cafile", "", "CA bundle to verify external etcd servers")
	f.StringVar(&cfg.EtcdCertFile, "etcd-certfile", "", "client certificate for external etcd")
	f.StringVar(&cfg.EtcdKeyFile, "etcd-keyfile", "", "client key for external etcd")
	f.StringVar(&cfg.EtcdPrefix, "etcd-prefix", "/registry", "key prefix for all objects in etcd")
	f.StringVar(&cfg.EmbeddedEtcdClientURL, "embedded-etcd-client-url", "http://127.0.0.1:2379", "client URL of the embedded etcd")
	f.StringVar(&cfg.EmbeddedEtcdPeerURL, "embedded-etcd-peer-url", "http://127.0.0.1:2380", "peer URL of the embedded etcd")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range of Service ClusterIPs")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "range of pod IPs (a /24 per node)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "DNS domain of the cluster")
	f.BoolVar(&cfg.DisableControllerManager, "disable-controller-manager", false, "do not run the controllers in this process")
	f.BoolVar(&cfg.DisableScheduler, "disable-scheduler", false, "do not run the scheduler in this process")
	f.DurationVar(&cfg.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second,
		"how long a node may miss heartbeats before it is marked Unknown and its pods are evicted")
	f.IntVar(&cfg.MaxRequestsInflight, "max-requests-inflight", 400,
		"with --max-mutating-requests-inflight, the API server's total concurrency limit, shared by its priority levels")
	f.IntVar(&cfg.MaxMutatingRequestsInflight, "max-mutating-requests-inflight", 200,
		"with --max-requests-inflight, the API server's total concurrency limit, shared by its priority levels")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", time.Minute,
		"deadline of every API request but watches, exec, attach, port-forward, logs and proxies; a request's ?timeout= may shorten it")
	f.BoolVar(&cfg.Profiling, "profiling", true, "serve Go profiles at /debug/pprof/ on the API port (authenticated)")
	f.BoolVar(&contentionProfiling, "contention-profiling", false,
		"with --profiling, record where goroutines block (/debug/pprof/block); costs CPU under load")
	f.IntVar(&cfg.RegistryPort, "registry-port", app.DefaultRegistryPort,
		"port of the local image registry (loopback; read-only on the advertise address)")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "run no node on this machine (control plane only)")
	f.StringVar(&cfg.Agent.ContainerRuntimeEndpoint, "container-runtime-endpoint", "",
		"for this machine's node: use this CRI socket instead of starting containerd")
	f.StringVar(&cfg.Agent.NodeName, "node-name", "", "name of this machine's Node (default: the host name)")
	f.StringVar(&cfg.Agent.CgroupRoot, "cgroup-root", "/kubepods", "for this machine's node: cgroupfs parent of its pods")
	f.BoolVar(&cfg.Agent.DisableProxy, "disable-proxy", false, "for this machine's node: run no Service proxy")
	f.BoolVar(&cfg.DisableRegistry, "disable-registry", false, "run no local image registry")
	f.StringSliceVar(&cfg.ServiceLBPool, "service-lb-pool", nil,
		"CIDRs LoadBalancer Services take one address each from (default: a LoadBalancer Service's ingress is its nodes' addresses)")
	f.BoolVar(&cfg.DisableDNS, "disable-dns", false, "run no cluster DNS (the kube-dns Service at the tenth service IP)")
	f.IntVar(&cfg.ClusterDNSPort, "cluster-dns-port", app.DefaultClusterDNSPort,
		"port the cluster DNS listens on at the advertise address (the kube-dns Service maps 53 to it)")
	f.StringVar(&cfg.TokenAuthFile, "token-auth-file", "", "static bearer tokens: CSV token,user,uid,\"group1,group2\"")
	f.StringSliceVar(&cfg.DisableCompressionForClientIPs, "disable-compression-for-client-ips", app.DefaultNoCompressionClients,
		"CIDRs of clients never sent gzipped responses (others that accept gzip get API responses over 128 KiB gzipped); \"\" compresses for all, as kube-apiserver's default")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// setContentionProfiling makes the block profile record every blocking
// event (on) or none (off), as upstream's --contention-profiling does.
// Recording costs CPU under load: it is for diagnosis.
func setContentionProfiling(on bool) {
	rate := 0
	if on {
		rate = 1
	}
	runtime.SetBlockProfileRate(rate)
}
