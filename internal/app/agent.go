package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	criapi "k8s.io/cri-api/pkg/apis"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/cri"
	"github.com/skiff-sh/skiff/internal/images"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/kubelet/prober"
	kubeletserver "github.com/skiff-sh/skiff/internal/kubelet/server"
	"github.com/skiff-sh/skiff/internal/kubelet/volume"
	"github.com/skiff-sh/skiff/internal/network"
	"github.com/skiff-sh/skiff/internal/proxy"
)

// AgentConfig configures `skiff agent`: one node.
type AgentConfig struct {
	// DataDir holds the node's identity, its containerd (root, state,
	// socket), CNI state, kubelet root and pod logs (default
	// /var/lib/skiff/agent).
	DataDir string
	// ServerURL and Token: the API server and the join token it printed.
	ServerURL, Token string
	// NodeName (default the host name, lowercased).
	NodeName string
	// NodeIP is the node's InternalIP (default the host's first global
	// IPv4 address).
	NodeIP string
	// ContainerRuntimeEndpoint is an existing CRI socket to use instead of
	// a containerd of skiff's own.
	ContainerRuntimeEndpoint string
	// KubeletPort is where the kubelet server listens (default 10250).
	KubeletPort int
	// CgroupRoot is the cgroupfs parent of the node's pods (default
	// /kubepods); nodes sharing one machine need one each.
	CgroupRoot string
	// DisableProxy runs no Service proxy on this node.
	DisableProxy bool
	// Image garbage collection, as the kubelet's flags of the same names
	// (zero values: upstream's defaults 85, 80, 2m, off).
	ImageGCHighThresholdPercent, ImageGCLowThresholdPercent int
	ImageMinimumGCAge, ImageMaximumGCAge                    time.Duration
	Labels                                                  map[string]string
	Logger                                                  *slog.Logger

	// registryReady, from an in-process server, closes once the built-in
	// images are in the registry.
	registryReady <-chan struct{}
}

func (c *AgentConfig) validate() error {
	if c.ServerURL == "" || c.Token == "" {
		return errors.New("agent: --server and --token are required")
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/skiff/agent"
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent: no --node-name and no host name: %w", err)
		}
		c.NodeName = strings.ToLower(h)
	}
	if c.NodeIP == "" {
		if ip, err := network.DefaultNodeIP(); err == nil {
			c.NodeIP = ip.String()
		} else {
			c.NodeIP = defaultAdvertiseAddress("0.0.0.0")
		}
	}
	if net.ParseIP(c.NodeIP) == nil {
		return fmt.Errorf("agent: node IP %q is not an IP address", c.NodeIP)
	}
	if c.KubeletPort == 0 {
		c.KubeletPort = kubelet.DefaultPort
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = kubelet.DefaultCgroupRoot
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// RunAgent joins the cluster and runs the node until ctx is done: the
// managed containerd, the pod network, the kubelet with volumes and
// probes, and the kubelet server.
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := cfg.Logger.With("node", cfg.NodeName)
	id, err := JoinCluster(ctx, cfg.ServerURL, cfg.Token, cfg.NodeName, []net.IP{net.ParseIP(cfg.NodeIP)},
		filepath.Join(cfg.DataDir, "tls"))
	if err != nil {
		return err
	}
	client, err := ComponentClient(&rest.Config{Host: cfg.ServerURL, TLSClientConfig: rest.TLSClientConfig{
		CAData: id.CAPEM, CertData: id.ClientCertPEM, KeyData: id.ClientKeyPEM}}, "skiff-agent/"+cfg.NodeName)
	if err != nil {
		return err
	}
	_, clusterCIDR, err := net.ParseCIDR(id.Facts.ClusterCIDR)
	if err != nil {
		return fmt.Errorf("agent: cluster CIDR from the server: %w", err)
	}

	cniConfDir := filepath.Join(cfg.DataDir, "cni", "net.d")
	endpoint := cfg.ContainerRuntimeEndpoint
	if endpoint == "" {
		if cfg.registryReady != nil {
			select {
			case <-cfg.registryReady:
			case <-ctx.Done():
				return nil
			}
		}
		rt, err := containerd.Start(ctx, containerd.Config{DataDir: cfg.DataDir, CNIConfDir: cniConfDir, CgroupParent: cfg.CgroupRoot,
			SandboxImage: images.PauseImage, RegistryMirror: id.Facts.Registry, Logger: log.With("component", "containerd")})
		if err != nil {
			return err
		}
		defer func() {
			if err := rt.Stop(); err != nil {
				log.Warn("stopping containerd", "err", err)
			}
		}()
		log.Info("containerd ready", "after", rt.ReadyAfter().Round(time.Millisecond), "restrictOOMScoreAdj", rt.RestrictsOOMScoreAdj())
		endpoint = rt.Endpoint()
	}
	remote, err := cri.Dial(ctx, endpoint)
	if err != nil {
		return err
	}
	defer remote.Close(context.Background())

	vols := volume.New(volume.Options{RootDir: filepath.Join(cfg.DataDir, "kubelet"), Client: client,
		NodeName: cfg.NodeName, Logger: log.With("component", "volumes")})
	probes := prober.New(prober.Options{Exec: criExec(remote), Logger: log.With("component", "prober")})
	// The agent's informers: every Service (pods' environment) and every
	// Node (host-gw routes).
	factory := informers.NewSharedInformerFactory(client, 0)
	services := factory.Core().V1().Services()
	kl, err := kubelet.New(kubelet.Config{
		NodeName:      cfg.NodeName,
		Client:        client,
		Runtime:       remote,
		Images:        remote,
		RootDir:       filepath.Join(cfg.DataDir, "kubelet"),
		PodLogsDir:    filepath.Join(cfg.DataDir, "pods"),
		ClusterDNS:    []string{id.Facts.ClusterDNS},
		ClusterDomain: id.Facts.ClusterDomain,
		NodeIP:        cfg.NodeIP,
		Labels:        cfg.Labels,
		Volumes:       vols,
		Probes:        proberAdapter{probes},
		Port:          int32(cfg.KubeletPort),
		CgroupRoot:    cfg.CgroupRoot,
		Logger:        log.With("component", "kubelet"),

		Services:       services.Lister(),
		ServicesSynced: services.Informer().HasSynced,

		ImageGCHighThresholdPercent: cfg.ImageGCHighThresholdPercent,
		ImageGCLowThresholdPercent:  cfg.ImageGCLowThresholdPercent,
		ImageMinimumGCAge:           cfg.ImageMinimumGCAge,
		ImageMaximumGCAge:           cfg.ImageMaximumGCAge,
		PodSandboxImage:             images.PauseImage,
	})
	if err != nil {
		return err
	}
	srv, err := newKubeletServer(ctx, cfg, id, client, remote, log)
	if err != nil {
		return err
	}
	run := []func(context.Context) error{kl.Run, vols.Start, srv,
		func(ctx context.Context) error {
			return setUpPodNetwork(ctx, client, cfg.NodeName, cniConfDir, filepath.Join(cfg.DataDir, "cni", "ipam"), clusterCIDR, log)
		}}
	// host-gw: a route to every other node's pods via that node.
	routes, err := network.NewRoutes(factory.Core().V1().Nodes(), network.RoutesOptions{NodeName: cfg.NodeName,
		NodeIP: net.ParseIP(cfg.NodeIP), Logger: log})
	if err != nil {
		return err
	}
	run = append(run, func(ctx context.Context) error {
		factory.Start(ctx.Done())
		defer factory.Shutdown()
		return routes.Start(ctx)
	})
	if !cfg.DisableProxy {
		px, err := proxy.New(proxy.Config{Client: client, NodeName: cfg.NodeName, ClusterCIDR: clusterCIDR,
			Logger: log.With("component", "proxy")})
		if err != nil {
			return err
		}
		run = append(run, px.Run)
	}
	return runAll(ctx, run...)
}

// setUpPodNetwork waits for the node's podCIDR (node IPAM assigns it once
// the kubelet has registered the node), then writes the CNI config and
// the forwarding and masquerade the pods need. Until then containerd
// reports its network not ready and no sandbox starts.
func setUpPodNetwork(ctx context.Context, client kubernetes.Interface, nodeName, confDir, ipamDir string, clusterCIDR *net.IPNet, log *slog.Logger) error {
	var podCIDR *net.IPNet
	for podCIDR == nil {
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			if _, podCIDR, err = net.ParseCIDR(node.Spec.PodCIDR); err != nil {
				return fmt.Errorf("node %s podCIDR: %w", nodeName, err)
			}
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := network.EnableForwarding(); err != nil {
		return err
	}
	if err := network.EnsureMasquerade(clusterCIDR); err != nil {
		return err
	}
	if _, err := network.WriteCNIConfig(confDir, network.CNIConfig{PodCIDR: podCIDR, IPAMDir: ipamDir}); err != nil {
		return err
	}
	log.Info("pod network ready", "podCIDR", podCIDR.String())
	<-ctx.Done()
	return nil
}

// newKubeletServer serves :10250 with the node's serving certificate;
// the API server reaches it for logs, exec, attach and port-forward.
func newKubeletServer(ctx context.Context, cfg AgentConfig, id *NodeIdentity, client kubernetes.Interface,
	rt criapi.RuntimeService, log *slog.Logger) (func(context.Context) error, error) {
	pair, err := tls.X509KeyPair(id.ServingCertPEM, id.ServingKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("kubelet serving certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(id.CAPEM)
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		}))
	pods := factory.Core().V1().Pods()
	srv, err := kubeletserver.New(kubeletserver.Config{
		Addr:       net.JoinHostPort("", strconv.Itoa(cfg.KubeletPort)),
		TLSCert:    pair,
		ClientCAs:  pool,
		Pods:       kubeletserver.ListerPods{Lister: pods.Lister(), NodeName: cfg.NodeName},
		Containers: kubeletserver.LabeledContainers{Runtime: rt},
		Runtime:    rt,
		Logger:     log.With("component", "kubelet-server"),
	})
	if err != nil {
		return nil, err
	}
	_ = pods.Informer()
	return func(ctx context.Context) error {
		factory.Start(ctx.Done())
		defer factory.Shutdown()
		return srv.ListenAndServe(ctx)
	}, nil
}

// criExec runs exec probes through the runtime; a non-zero exit is a
// result, not an error.
func criExec(rt criapi.RuntimeService) prober.ExecFunc {
	return func(ctx context.Context, containerID string, cmd []string, timeout time.Duration) ([]byte, int, error) {
		stdout, stderr, err := rt.ExecSync(ctx, containerID, cmd, timeout)
		out := append(stdout, stderr...)
		var exit *cri.ExitError
		if errors.As(err, &exit) {
			return out, int(exit.Code), nil
		}
		if err != nil {
			return out, -1, err
		}
		return out, 0, nil
	}
}

// proberAdapter fits the prober to the kubelet's ProbeManager: the
// kubelet hands it its callbacks when it starts.
type proberAdapter struct{ *prober.Manager }

func (a proberAdapter) Start(ctx context.Context, host kubelet.ProbeHost) error {
	a.SetHooks(prober.Hooks{
		OnChange: host.ProbeResultChanged,
		Recorder: host.Recorder(),
		OnFailure: func(f prober.Failure) {
			host.ContainerUnhealthy(kubelet.ProbeFailure{PodUID: f.PodUID, Container: f.Container,
				ContainerID: f.ContainerID, Probe: kubelet.ProbeType(f.Probe), Message: f.Output})
		},
	})
	return a.Manager.Start(ctx)
}

// CleanupAgent removes everything a node left on this machine (its
// network namespace): every pod (through its containerd, so mounts,
// network namespaces and IPs are released), leftover shims and pod
// processes, the pod cgroups under cfg.CgroupRoot, the pod bridge, the
// nftables tables of the pod network and the Service proxy, and the
// node's data dir. The agent must not be running.
func CleanupAgent(ctx context.Context, cfg AgentConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = kubelet.DefaultCgroupRoot
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	var errs []error
	if err := containerd.Cleanup(ctx, containerd.Config{DataDir: dataDir, CgroupParent: cfg.CgroupRoot,
		CNIConfDir: filepath.Join(dataDir, "cni", "net.d"), Logger: log}); err != nil {
		errs = append(errs, err)
	}
	if err := network.Cleanup(""); err != nil {
		errs = append(errs, err)
	}
	if err := network.CleanupRoutes(nil); err != nil {
		errs = append(errs, err)
	}
	if px, err := proxy.New(proxy.Config{Logger: log}); err != nil {
		errs = append(errs, err)
	} else if err := px.Cleanup(); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(dataDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
