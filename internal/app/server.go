package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	kubeletserver "github.com/skiff-sh/skiff/internal/kubelet/server"
	"github.com/skiff-sh/skiff/internal/storage"
)

// Server is a running `skiff server`.
type Server struct {
	cfg        ServerConfig
	log        *slog.Logger
	api        *apiserver.Server
	etcd       *clientv3.Client
	embedded   *storage.Embedded
	httpServer *http.Server
	listener   net.Listener
	// KubeconfigPath is the admin kubeconfig written at start.
	KubeconfigPath string
	// JoinToken lets agents join (`skiff agent --token`).
	JoinToken string
	// URL is the API server's address as clients use it.
	URL         string
	clusterCIDR *net.IPNet
	registry    *localRegistry
	localURL    string // the API as this machine reaches it
	// componentConfigs are the in-process components' client configs.
	controllerManagerConfig, schedulerConfig *rest.Config
	dns                                      *clusterDNS
}

// NewServer prepares certificates, etcd and the API server, and binds the
// listener; Run serves. Splitting the two lets callers learn the address
// (and tests use port 0).
func NewServer(ctx context.Context, cfg ServerConfig) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	_, s.clusterCIDR, _ = net.ParseCIDR(cfg.ClusterCIDR)
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	tlsDir := filepath.Join(cfg.DataDir, "tls")

	// Gate 1: certificates and credentials.
	ca, err := auth.EnsureCA(tlsDir)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	_, serviceNet, _ := net.ParseCIDR(cfg.ServiceCIDR)
	kubeIP := firstServiceIP(serviceNet)
	hosts, ips := servingSANs(cfg, kubeIP)
	serving, err := auth.EnsureServingCert(tlsDir, ca, hosts, ips)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	adminCert, adminKey, err := auth.EnsureClientCert(tlsDir, "admin", ca, "system:admin", []string{"system:masters"})
	if err != nil {
		return nil, fmt.Errorf("admin certificate: %w", err)
	}
	// The API server's identity towards kubelets (logs, exec, port-forward).
	kubeletCert, kubeletKey, err := auth.EnsureClientCert(tlsDir, "kube-apiserver-kubelet-client", ca,
		kubeletserver.APIServerKubeletClientUser, nil)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	kubeletPair, err := tls.X509KeyPair(kubeletCert, kubeletKey)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	token, err := auth.EnsureJoinToken(cfg.DataDir, ca)
	if err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	s.JoinToken = token.String()
	authenticators := []auth.Authenticator{auth.NewX509Authenticator(ca.Pool())}
	tokens := auth.NewTokenAuthenticator()
	tokens.AddJoinToken(token)
	if cfg.TokenAuthFile != "" {
		if err := tokens.LoadFile(cfg.TokenAuthFile); err != nil {
			return nil, fmt.Errorf("token auth file: %w", err)
		}
	}
	authenticators = append(authenticators, tokens)
	// Service account tokens: signed with tls/sa.key, checked by the API server.
	saKey, err := auth.EnsureServiceAccountKey(tlsDir)
	if err != nil {
		return nil, fmt.Errorf("service account key: %w", err)
	}
	saTokens, err := auth.NewServiceAccountTokens(saKey, "", nil)
	if err != nil {
		return nil, fmt.Errorf("service account key: %w", err)
	}

	// Gate 2: etcd.
	if len(cfg.EtcdServers) == 0 {
		s.embedded, err = storage.StartEmbedded(ctx, storage.EmbeddedConfig{
			DataDir:   filepath.Join(cfg.DataDir, "etcd"),
			ClientURL: cfg.EmbeddedEtcdClientURL,
			PeerURL:   cfg.EmbeddedEtcdPeerURL,
			Logger:    s.log,
		})
		if err != nil {
			return nil, fmt.Errorf("embedded etcd: %w", err)
		}
		// The member's handlers are called directly; its client port
		// still serves etcdctl and other clients.
		s.etcd = s.embedded.LocalClient()
	} else {
		s.etcd, err = storage.NewClient(ctx, storage.ClientConfig{Endpoints: cfg.EtcdServers,
			CAFile: cfg.EtcdCAFile, CertFile: cfg.EtcdCertFile, KeyFile: cfg.EtcdKeyFile, Logger: s.log})
	}
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}

	// Gate 3: the API server.
	s.listener = cfg.Listener
	if s.listener == nil {
		addr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.SecurePort))
		if s.listener, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
	}
	port := s.listener.Addr().(*net.TCPAddr).Port
	s.api, err = apiserver.New(apiserver.Config{
		Etcd:                 s.etcd,
		KeyPrefix:            cfg.EtcdPrefix,
		ServiceCIDR:          serviceNet,
		AdvertiseAddress:     net.ParseIP(cfg.AdvertiseAddress),
		SecurePort:           port,
		Authenticator:        auth.Union(authenticators...),
		Authorizer:           auth.AlwaysAllow{},
		ServiceAccountTokens: saTokens,
		KubeletClientTLS:     &tls.Config{Certificates: []tls.Certificate{kubeletPair}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
		Logger:               s.log,

		MaxRequestsInflight:         cfg.MaxRequestsInflight,
		MaxMutatingRequestsInflight: cfg.MaxMutatingRequestsInflight,
		RequestTimeout:              cfg.RequestTimeout,
		Profiling:                   cfg.Profiling,
		DisableCompressionFor:       cfg.disableCompressionFor,
	})
	if err != nil {
		return nil, err
	}
	host := cfg.AdvertiseAddress
	if ip := net.ParseIP(cfg.BindAddress); ip.IsLoopback() {
		host = cfg.BindAddress
	}
	s.URL = "https://" + net.JoinHostPort(host, strconv.Itoa(port))
	s.KubeconfigPath = filepath.Join(cfg.DataDir, "admin.kubeconfig")
	localURL := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if ip := net.ParseIP(cfg.BindAddress); !ip.IsUnspecified() && !ip.IsLoopback() {
		localURL = s.URL
	}
	s.localURL = localURL
	if err := auth.WriteKubeconfig(s.KubeconfigPath, localURL, ca.CertPEM, adminCert, adminKey, "default", "default"); err != nil {
		return nil, fmt.Errorf("admin kubeconfig: %w", err)
	}
	// In-process components are API clients with identities of their own.
	componentConfig := func(user string) (*rest.Config, error) {
		name := strings.TrimPrefix(user, "system:")
		cert, key, err := auth.EnsureClientCert(tlsDir, name, ca, user, nil)
		if err != nil {
			return nil, err
		}
		// No gzip over loopback, as upstream's control plane components
		// ask none (whatever --disable-compression-for-client-ips says).
		return &rest.Config{Host: localURL, TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertData: cert, KeyData: key},
			DisableCompression: true}, nil
	}
	if !cfg.DisableControllerManager {
		if s.controllerManagerConfig, err = componentConfig("system:kube-controller-manager"); err != nil {
			return nil, fmt.Errorf("controller-manager credentials: %w", err)
		}
	}
	if !cfg.DisableScheduler {
		if s.schedulerConfig, err = componentConfig("system:kube-scheduler"); err != nil {
			return nil, fmt.Errorf("scheduler credentials: %w", err)
		}
	}
	if !cfg.DisableDNS {
		dnsConfig, err := componentConfig("system:skiff-dns")
		if err != nil {
			return nil, fmt.Errorf("cluster DNS credentials: %w", err)
		}
		if s.dns, err = newClusterDNS(dnsConfig, cfg.ClusterDomain, ClusterDNSIP(serviceNet), net.ParseIP(cfg.AdvertiseAddress),
			cfg.ClusterDNSPort, s.log.With("component", "dns")); err != nil {
			return nil, fmt.Errorf("cluster DNS: %w", err)
		}
	}
	tlsCfg := auth.ServerTLSConfig(serving, ca)
	facts := NodeCredentials{ClusterDNS: ClusterDNSIP(serviceNet).String(), ClusterDomain: cfg.ClusterDomain,
		ClusterCIDR: cfg.ClusterCIDR}
	if !cfg.DisableRegistry {
		if s.registry, err = openLocalRegistry(cfg.DataDir, s.log.With("component", "registry")); err != nil {
			return nil, err
		}
		if err := s.registry.serve(cfg.AdvertiseAddress, cfg.RegistryPort); err != nil {
			return nil, err
		}
		facts.Registry = "http://" + net.JoinHostPort(cfg.AdvertiseAddress, strconv.Itoa(cfg.RegistryPort))
	}
	join := &joinHandler{next: s.api.Handler(), ca: ca, authn: auth.Union(authenticators...), facts: facts}
	s.httpServer = &http.Server{
		Handler:           join,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// As kube-apiserver: a client (a kubelet, a controller manager)
		// multiplexes its many watches over one connection.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000},
	}
	return s, nil
}

// Run serves until ctx is done, then shuts down in reverse order.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 8)
	go func() {
		err := s.httpServer.Serve(tls.NewListener(s.listener, s.httpServer.TLSConfig))
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	go func() { errc <- s.api.Start(ctx) }()
	if s.registry != nil {
		go s.registry.seed(ctx)
	}
	// Gate 4: the components, once the API server is ready.
	go func() {
		if !s.waitReady(ctx) {
			return
		}
		if !s.cfg.DisableAgent {
			go func() { errc <- s.runAgent(ctx) }()
		}
		if s.dns != nil {
			go func() { errc <- s.dns.Run(ctx) }()
		}
		shared, err := s.componentInformers(ctx)
		if err != nil {
			errc <- err
			return
		}
		if shared != nil {
			defer shared.shutdown()
		}
		var wg sync.WaitGroup
		if s.controllerManagerConfig != nil {
			wg.Go(func() {
				errc <- RunControllerManager(ctx, s.controllerManagerConfig,
					ComponentOptions{ClusterCIDR: s.clusterCIDR, NodeMonitorGracePeriod: s.cfg.NodeMonitorGracePeriod, LoadBalancerPool: s.cfg.serviceLBPool,
						Log: s.log.With("component", "controller-manager"), shared: shared})
			})
		}
		if s.schedulerConfig != nil {
			wg.Go(func() {
				errc <- RunScheduler(ctx, s.schedulerConfig, ComponentOptions{Log: s.log.With("component", "scheduler"), shared: shared})
			})
		}
		wg.Wait()
	}()

	s.log.Info("skiff server listening", "url", s.URL, "kubeconfig", s.KubeconfigPath)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), shutdownTimeout)
	defer done()
	if serr := s.httpServer.Shutdown(shutdownCtx); serr != nil {
		_ = s.httpServer.Close()
	}
	return err
}

// componentInformers returns the informer cache the in-process scheduler
// and controller manager share, or nil unless both run. It reads this
// server's stores directly (see apiserver's LocalWatch); a type the server
// does not serve is read over HTTP with the controller manager's identity,
// which may read everything the scheduler reads.
func (s *Server) componentInformers(ctx context.Context) (*sharedInformers, error) {
	if s.controllerManagerConfig == nil || s.schedulerConfig == nil {
		return nil, nil
	}
	client, err := ComponentClient(s.controllerManagerConfig, "skiff-controller-manager")
	if err != nil {
		return nil, fmt.Errorf("shared informers: %w", err)
	}
	return newSharedInformers(ctx, client, s.api), nil
}

// waitReady waits for the API server's bootstrap; false if ctx ended.
func (s *Server) waitReady(ctx context.Context) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.Ready() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// JoinURL is the address agents on other machines join at: the
// advertise address, on the API server's port.
func (s *Server) JoinURL() string {
	return "https://" + net.JoinHostPort(s.cfg.AdvertiseAddress, strconv.Itoa(s.listener.Addr().(*net.TCPAddr).Port))
}

// Ready reports whether the API server has finished bootstrapping.
func (s *Server) Ready() bool { return s.api != nil && s.api.Ready() }

func (s *Server) close() {
	if s.registry != nil {
		s.registry.close()
	}
	if s.etcd != nil {
		_ = s.etcd.Close()
	}
	if s.embedded != nil {
		_ = s.embedded.Close()
	}
	if s.listener != nil {
		_ = s.listener.Close()
	}
}

// servingSANs are the names the API server's certificate covers.
func servingSANs(cfg ServerConfig, kubeIP net.IP) ([]string, []net.IP) {
	hosts := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + cfg.ClusterDomain}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), kubeIP}
	if ip := net.ParseIP(cfg.AdvertiseAddress); ip != nil {
		ips = append(ips, ip)
	}
	if ip := net.ParseIP(cfg.BindAddress); ip != nil && !ip.IsUnspecified() {
		ips = append(ips, ip)
	}
	for _, san := range cfg.TLSSANs {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			hosts = append(hosts, san)
		}
	}
	return hosts, ips
}

func firstServiceIP(n *net.IPNet) net.IP { return nthIP(n, 1) }

// ClusterDNSIP is the cluster DNS Service's address: the tenth of the
// service range (10.43.0.10 by default), as k3s and kubeadm place it.
func ClusterDNSIP(n *net.IPNet) net.IP { return nthIP(n, 10) }

func nthIP(n *net.IPNet, i byte) net.IP {
	ip := make(net.IP, len(n.IP.To4()))
	copy(ip, n.IP.To4())
	ip[len(ip)-1] += i
	return ip
}

// runAgent runs this machine's node, joined to this server like any other.
func (s *Server) runAgent(ctx context.Context) error {
	cfg := s.cfg.Agent
	cfg.ServerURL, cfg.Token = s.localURL, s.JoinToken
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(s.cfg.DataDir, "agent")
	}
	if cfg.NodeIP == "" {
		cfg.NodeIP = s.cfg.AdvertiseAddress
	}
	if cfg.Logger == nil {
		cfg.Logger = s.log.With("component", "agent")
	}
	if s.registry != nil {
		cfg.registryReady = s.registry.seeded
	}
	err := RunAgent(ctx, cfg)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}
