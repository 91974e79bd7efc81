package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/skiff-sh/skiff/internal/cri/fake"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// HollowConfig configures `skiff hollow-nodes`: many nodes in one process
// running the real kubelet code against the in-memory CRI runtime, the
// way kubemark's hollow nodes stand in for machines in scale tests.
type HollowConfig struct {
	Count int
	// Prefix names the nodes <Prefix><index> (default "hollow-").
	Prefix string
	// CPU, Memory and Pods are each node's capacity (default 4, 16Gi, 110).
	CPU, Memory, Pods string
	Labels            map[string]string
	// NodesPerConnection is how many nodes share one client and its
	// connection to the API server (default 1: each node has its own, as
	// real kubelets and kubemark's hollow nodes do, so the server pays the
	// per-connection costs a real cluster imposes; packing nodes saves the
	// hollow process about 185 KB and some TLS work per node).
	NodesPerConnection int
	Logger             *slog.Logger
}

// RunHollowNodes runs the hollow nodes until ctx is done. Each has its own
// client (connection and rate limits, a kubelet's 50 QPS and burst of 100;
// see NodesPerConnection), fake runtime, lease and status loop on
// upstream's timings; they share one event broadcaster and one Service
// informer.
func RunHollowNodes(ctx context.Context, restCfg *rest.Config, cfg HollowConfig) error {
	if cfg.Count <= 0 {
		return fmt.Errorf("hollow nodes: --count must be positive")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "hollow-"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NodesPerConnection <= 0 {
		cfg.NodesPerConnection = 1
	}
	capacity := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: or(cfg.CPU, "4"),
		corev1.ResourceMemory: or(cfg.Memory, "16Gi"), corev1.ResourcePods: or(cfg.Pods, "110")} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return fmt.Errorf("hollow nodes: %s capacity %q: %w", name, v, err)
		}
		capacity[name] = q
	}
	client, err := ComponentClient(restCfg, "skiff-hollow-nodes")
	if err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()

	// One informer of every Service serves all the nodes' kubelets (a
	// real node keeps its own; thousands of identical watches in one
	// process would only measure the simulation).
	factory := informers.NewSharedInformerFactory(client, 0)
	services := factory.Core().V1().Services()
	_ = services.Informer()
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	var runs []func(context.Context) error
	var nodeClient kubernetes.Interface
	for i := 0; i < cfg.Count; i++ {
		name := fmt.Sprintf("%s%d", cfg.Prefix, i)
		if i%cfg.NodesPerConnection == 0 {
			if nodeClient, err = hollowClient(restCfg, min(cfg.NodesPerConnection, cfg.Count-i)); err != nil {
				return err
			}
		}
		rt, err := fake.New(fake.Options{PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256)})
		if err != nil {
			return err
		}
		kl, err := kubelet.New(kubelet.Config{
			NodeName:         name,
			Client:           nodeClient,
			Runtime:          rt,
			Images:           rt,
			Hollow:           true,
			NodeIP:           fmt.Sprintf("10.255.%d.%d", i/254%256, i%254+1),
			Capacity:         capacity,
			Labels:           cfg.Labels,
			EventBroadcaster: broadcaster,
			// Upstream's --sync-frequency default, which kubemark's
			// hollow kubelets run with: a pod's periodic resync only
			// catches what no event reported, and at 10 s (skiff's
			// default) a thousand nodes' resyncs were a third of the
			// hollow-nodes process's CPU.
			ResyncPeriod:   time.Minute,
			Services:       services.Lister(),
			ServicesSynced: services.Informer().HasSynced,
			Logger:         cfg.Logger.With("node", name),
		})
		if err != nil {
			return err
		}
		runs = append(runs, kl.Run)
	}
	start := time.Now()
	cfg.Logger.Info("starting hollow nodes", "count", cfg.Count)
	defer func() { cfg.Logger.Info("hollow nodes stopped", "ran", time.Since(start).Round(time.Second)) }()
	return runAll(ctx, runs...)
}

// hollowClient is a client of its own, with its own connection, for n
// hollow nodes: a kubelet's rate limits (upstream's --kube-api-qps 50 and
// --kube-api-burst 100) times n, protobuf as the kubelet speaks it.
func hollowClient(restCfg *rest.Config, n int) (kubernetes.Interface, error) {
	c := rest.CopyConfig(restCfg)
	c.UserAgent = "skiff-hollow-node"
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.QPS, c.Burst = float32(50*n), 100*n
	// A dialer of its own keeps client-go from handing every node the
	// same cached transport, and so the same connections.
	c.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	hc, err := rest.HTTPClientFor(c)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfigAndClient(c, hc)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
