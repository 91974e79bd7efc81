// Package apiserver is skiff's Kubernetes API server: HTTP routing,
// discovery, content negotiation, CRUD, patch and server-side apply, watch
// streaming, Table output, errors, and the authentication/authorization
// filters, and flow control (fairness.go: built-in priority levels that
// answer 429 under overload; there are no FlowSchema or
// PriorityLevelConfiguration objects). Short requests run on warm worker
// goroutines (warmstacks.go), each with a deadline (timeout.go: 504 at
// --request-timeout or the request's ?timeout=). Responses over 128 KiB are gzipped for
// clients that accept it (compress.go). It stores objects through
// internal/storage and takes each resource's semantics from
// internal/apiserver/resources. It does not run controllers, the
// scheduler or anything else that acts on objects: those are API
// clients.
package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/auth"
)

// Config is everything the API server needs. Validate before New.
type Config struct {
	// Etcd is the client for the cluster's etcd; the server owns nothing of
	// its lifecycle.
	Etcd *clientv3.Client
	// KeyPrefix roots every key (default "/registry").
	KeyPrefix string
	// ServiceCIDR is where ClusterIPs come from (default 10.43.0.0/16).
	ServiceCIDR *net.IPNet
	// NodePortBase and NodePortSize give the node port range
	// (default 30000, 2768: 30000-32767).
	NodePortBase, NodePortSize int
	// AdvertiseAddress and SecurePort are what the kubernetes Service's
	// endpoints point at.
	AdvertiseAddress net.IP
	SecurePort       int
	// Authenticator and Authorizer guard every request but the public
	// health and version endpoints. Nil Authenticator admits everyone as
	// system:anonymous (tests only); nil Authorizer allows everything.
	Authenticator auth.Authenticator
	Authorizer    auth.Authorizer
	// ServiceAccountTokens, if set, issues tokens through
	// serviceaccounts/token, and its tokens authenticate (checked against
	// this server's storage) after Authenticator's credentials. Nil
	// answers serviceaccounts/token with 503.
	ServiceAccountTokens *auth.ServiceAccountTokens
	// MaxRequestBodyBytes caps request bodies (default 3 MiB) with 413.
	MaxRequestBodyBytes int64
	// CompactionInterval: how often etcd history is compacted (default 5m;
	// negative disables).
	CompactionInterval time.Duration
	// BookmarkInterval: how often watches get bookmarks (default 1m).
	BookmarkInterval time.Duration
	// KubeletClientTLS is how the API server reaches kubelets for pods/log,
	// exec, attach, portforward and nodes/proxy: its kubelet client
	// certificate and the CA that signs kubelet serving certificates. Nil
	// answers those subresources with 503.
	KubeletClientTLS *tls.Config
	// MaxRequestsInflight and MaxMutatingRequestsInflight are summed, as
	// upstream's API priority and fairness does, into the seats the
	// priority levels share (defaults 400 and 200).
	MaxRequestsInflight, MaxMutatingRequestsInflight int
	// RequestTimeout is the deadline of every request but the
	// long-running ones (default 60s, upstream's --request-timeout); a
	// request's ?timeout= may shorten it (timeout.go).
	RequestTimeout time.Duration
	// RequestQueueTimeout is the longest a request waits for a seat
	// before it is answered 429 (default a quarter of RequestTimeout, at
	// most 15s, as upstream's).
	RequestQueueTimeout time.Duration
	// WatchWriteTimeout is how long one write to a watch may block (a
	// client that stopped reading) before the watch is cut off
	// (default 30s).
	WatchWriteTimeout time.Duration
	// Profiling serves Go's profiles under /debug/pprof/ to authenticated
	// and authorized clients, as upstream's --profiling does.
	Profiling bool
	// DisableCompressionFor are the client networks that are never sent
	// gzipped responses (compress.go), as upstream's
	// --disable-compression-for-client-ips (a client is its request's
	// first X-Forwarded-For address, else X-Real-Ip, else the peer, as
	// upstream's); every other client that accepts gzip gets responses
	// over 128 KiB gzipped.
	DisableCompressionFor []netip.Prefix

	Logger *slog.Logger
}

// Validate fills defaults and checks the config.
func (c *Config) Validate() error {
	if c.Etcd == nil {
		return errors.New("apiserver: an etcd client is required")
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "/registry"
	}
	if c.ServiceCIDR == nil {
		_, c.ServiceCIDR, _ = net.ParseCIDR("10.43.0.0/16")
	}
	if ones, bits := c.ServiceCIDR.Mask.Size(); bits-ones < 2 || bits-ones > 20 {
		return fmt.Errorf("apiserver: service CIDR %s must be between /12 and /30", c.ServiceCIDR)
	}
	if c.NodePortBase == 0 {
		c.NodePortBase, c.NodePortSize = 30000, 2768
	}
	if c.NodePortSize <= 0 || c.NodePortBase+c.NodePortSize > 65536 {
		return fmt.Errorf("apiserver: bad node port range %d+%d", c.NodePortBase, c.NodePortSize)
	}
	if c.SecurePort == 0 {
		c.SecurePort = 6443
	}
	if c.AdvertiseAddress == nil {
		c.AdvertiseAddress = net.IPv4(127, 0, 0, 1)
	}
	if c.MaxRequestBodyBytes == 0 {
		c.MaxRequestBodyBytes = 3 << 20
	}
	if c.CompactionInterval == 0 {
		c.CompactionInterval = 5 * time.Minute
	}
	if c.BookmarkInterval == 0 {
		c.BookmarkInterval = time.Minute
	}
	if c.MaxRequestsInflight == 0 {
		c.MaxRequestsInflight = 400
	}
	if c.MaxMutatingRequestsInflight == 0 {
		c.MaxMutatingRequestsInflight = 200
	}
	if c.MaxRequestsInflight < 0 || c.MaxMutatingRequestsInflight < 0 {
		return fmt.Errorf("apiserver: max requests in flight must not be negative (%d, %d)", c.MaxRequestsInflight, c.MaxMutatingRequestsInflight)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = time.Minute
	}
	if c.RequestQueueTimeout == 0 {
		c.RequestQueueTimeout = min(15*time.Second, c.RequestTimeout/4)
	}
	if c.WatchWriteTimeout == 0 {
		c.WatchWriteTimeout = 30 * time.Second
	}
	if c.RequestTimeout < 0 || c.RequestQueueTimeout < 0 || c.WatchWriteTimeout < 0 {
		return errors.New("apiserver: request, request queue and watch write timeouts must be positive")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server is the API server. Handler serves it; Start runs its background
// work (bootstrap objects, compaction).
type Server struct {
	cfg     Config
	log     *slog.Logger
	scheme  *runtime.Scheme
	codecs  serializer.CodecFactory
	now     func() time.Time
	handler http.Handler

	// endpoints by group, version and resource.
	endpoints map[schema.GroupVersionResource]*endpoint
	// byGV groups the endpoints for discovery, in resources.All order.
	byGV      map[schema.GroupVersion][]*endpoint
	gvOrder   []schema.GroupVersion
	discovery *discoveryDocs
	openapi   *openapiServer

	serviceIPs *ipAllocator
	nodePorts  *portAllocator

	metrics *metrics
	ready   atomic.Bool
	kubelet *kubeletClient

	// namespaceCache and priorityClassCache serve admission's reads on
	// every create (objectcache.go); Start fills them.
	namespaceCache, priorityClassCache *objectCache
	// frames shares encoded watch events between watchers.
	frames *frameMemo
	// flowControl holds the priority levels (fairness.go).
	flowControl *flowControl
}

// New builds the server: one store per resource and the route table.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		scheme:    newScheme(),
		now:       time.Now,
		endpoints: map[schema.GroupVersionResource]*endpoint{},
		byGV:      map[schema.GroupVersion][]*endpoint{},
		metrics:   newMetrics(),
		kubelet:   newKubeletClient(cfg.KubeletClientTLS),
		frames:    newFrameMemo(),
	}
	s.codecs = newCodecs(s.scheme)
	rangeStore, rangeKey := s.rawStore("ranges", "")
	s.serviceIPs = newIPAllocator(rangeStore, rangeKey+"/serviceips", cfg.ServiceCIDR)
	s.nodePorts = newPortAllocator(rangeStore, rangeKey+"/servicenodeports", cfg.NodePortBase, cfg.NodePortSize)

	all := resources.All(resources.Deps{ServiceIPs: s.serviceIPs, NodePorts: s.nodePorts, PriorityClasses: storedPriorityClasses{s}})
	for _, res := range all {
		ep, err := s.newEndpoint(res)
		if err != nil {
			return nil, fmt.Errorf("apiserver: %s: %w", res.GVR(), err)
		}
		gv := res.GroupVersion
		s.endpoints[res.GVR()] = ep
		if _, ok := s.byGV[gv]; !ok {
			s.gvOrder = append(s.gvOrder, gv)
		}
		s.byGV[gv] = append(s.byGV[gv], ep)
	}
	s.useServiceAccountTokens()
	s.namespaceCache = s.cacheObjects(corev1.SchemeGroupVersion.WithResource("namespaces"))
	s.priorityClassCache = s.cacheObjects(schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"))
	s.discovery = s.buildDiscovery()
	s.openapi = newOpenAPIServer(s.scheme, all)
	s.flowControl = newFlowControl(cfg.MaxRequestsInflight+cfg.MaxMutatingRequestsInflight, cfg.RequestQueueTimeout, s.metrics.registry)
	s.handler = s.buildHandler()
	return s, nil
}

// cacheObjects gives the resource an objectCache fed by its store (nil if
// the resource is not served).
func (s *Server) cacheObjects(gvr schema.GroupVersionResource) *objectCache {
	ep := s.endpoints[gvr]
	if ep == nil {
		return nil
	}
	c := newObjectCache(ep, s.log)
	ep.store = cachingStore{Interface: ep.store, cache: c}
	return c
}

// Handler is the whole HTTP API, filters included.
func (s *Server) Handler() http.Handler { return s.handler }

// Ready reports whether bootstrap has finished (readyz).
func (s *Server) Ready() bool { return s.ready.Load() }

// Start creates the objects every cluster has (namespaces, the kubernetes
// Service), repairs the allocators, marks the server ready, then runs
// compaction until ctx is done.
func (s *Server) Start(ctx context.Context) error {
	for _, c := range []*objectCache{s.namespaceCache, s.priorityClassCache} {
		if c != nil {
			go c.Run(ctx)
		}
	}
	if err := s.bootstrap(ctx); err != nil {
		return fmt.Errorf("apiserver: bootstrap: %w", err)
	}
	s.ready.Store(true)
	s.log.Info("API server ready")
	if s.cfg.CompactionInterval > 0 {
		return s.runCompactor(ctx)
	}
	<-ctx.Done()
	return nil
}

// Version is what /version reports. The minor version is what the
// installed kubectl dispatcher uses to choose its binary.
var Version = version.Info{
	Major:        "1",
	Minor:        "32",
	GitVersion:   "v1.32.4+skiff",
	GitCommit:    "",
	GitTreeState: "clean",
	BuildDate:    "1970-01-01T00:00:00Z",
	GoVersion:    "",
	Compiler:     "gc",
	Platform:     "linux/amd64",
}
