// Package app is skiff's composition root: it turns a Config into running
// components, starts them in order through readiness gates (certificates →
// etcd → API server → the rest) and owns the one shutdown path. Nothing
// below it reads flags or the environment.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// DefaultNoCompressionClients are the clients `skiff server` sends no
// gzipped responses unless told otherwise: those on this machine, for
// which a gzipped list only costs both ends CPU (kubectl on the server
// decodes a 150,000-pod Table seconds sooner without it).
var DefaultNoCompressionClients = []string{"127.0.0.0/8", "::1/128"}

// ServerConfig configures `skiff server`.
type ServerConfig struct {
	// DataDir holds etcd data, certificates, the join token and
	// admin.kubeconfig (default /var/lib/skiff).
	DataDir string
	// BindAddress and SecurePort: where the API server listens.
	BindAddress string
	SecurePort  int
	// AdvertiseAddress is the address other nodes and the kubernetes
	// Service use to reach this server (default: the first non-loopback
	// IPv4 address, else 127.0.0.1).
	AdvertiseAddress string
	// TLSSANs are extra names or IPs for the serving certificate.
	TLSSANs []string

	// EtcdServers selects an external etcd cluster; empty means embedded.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EtcdPrefix roots the keys skiff writes (default /registry).
	EtcdPrefix string
	// EmbeddedEtcdClientURL/PeerURL: where the embedded etcd listens
	// (defaults http://127.0.0.1:2379 and :2380).
	EmbeddedEtcdClientURL, EmbeddedEtcdPeerURL string

	ServiceCIDR   string // default 10.43.0.0/16
	ClusterCIDR   string // default 10.42.0.0/16
	ClusterDomain string // default cluster.local

	// DisableControllerManager and DisableScheduler skip running those
	// components in this process (run them with `skiff controller-manager`
	// and `skiff scheduler`, or not at all).
	DisableControllerManager, DisableScheduler bool
	// NodeMonitorGracePeriod for the node lifecycle controller (0: 40s).
	NodeMonitorGracePeriod time.Duration
	// MaxRequestsInflight and MaxMutatingRequestsInflight sum to the API
	// server's concurrency limit, shared by its priority levels (0: 400
	// and 200, upstream's defaults).
	MaxRequestsInflight, MaxMutatingRequestsInflight int
	// RequestTimeout is the API server's deadline for every request but
	// watches, exec, attach, port-forward, logs and proxies (0: 60s).
	RequestTimeout time.Duration
	// Profiling serves /debug/pprof/ on the API server's port.
	Profiling bool

	// DisableAgent runs no node on the server's machine (a control plane
	// only; nodes join with `skiff agent`).
	DisableAgent bool
	// Agent configures the server's own node (ServerURL, Token and
	// DataDir are filled in).
	Agent AgentConfig

	// RegistryPort is where the local image registry listens (default
	// 6444): on loopback, and read-only on the advertise address.
	RegistryPort int
	// DisableRegistry runs no registry (then pods can only use images
	// the runtime already has or reaches itself).
	DisableRegistry bool

	// DisableDNS runs no cluster DNS in this server (and publishes no
	// kube-dns endpoint for it).
	DisableDNS bool
	// ClusterDNSPort is where the cluster DNS listens on the advertise
	// address, UDP and TCP (default 10053); the kube-dns Service maps
	// port 53 to it.
	ClusterDNSPort int

	// ServiceLBPool are CIDRs LoadBalancer Services take one address each
	// from; empty: their ingress is their nodes' addresses.
	ServiceLBPool []string
	serviceLBPool []netip.Prefix

	// TokenAuthFile is an optional static token file (token,user,uid,"groups").
	TokenAuthFile string

	// DisableCompressionForClientIPs are CIDRs of clients the API server
	// never sends gzipped responses; any other client that accepts gzip
	// gets responses over 128 KiB gzipped, as from kube-apiserver. Nil
	// means DefaultNoCompressionClients (loopback, where gzip only costs
	// CPU); an empty, non-nil list compresses for every client, as
	// kube-apiserver does by default.
	DisableCompressionForClientIPs []string
	disableCompressionFor          []netip.Prefix

	// Listener, if set, is used instead of binding BindAddress:SecurePort
	// (tests pass a loopback listener on port 0).
	Listener net.Listener

	Logger *slog.Logger
}

// Validate fills defaults and checks the values.
func (c *ServerConfig) Validate() error {
	if c.DataDir == "" {
		c.DataDir = "/var/lib/skiff"
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	c.DataDir = abs
	if c.BindAddress == "" {
		c.BindAddress = "0.0.0.0"
	}
	if net.ParseIP(c.BindAddress) == nil {
		return fmt.Errorf("bind address %q is not an IP address", c.BindAddress)
	}
	if c.SecurePort == 0 {
		c.SecurePort = 6443
	}
	if c.RegistryPort == 0 {
		c.RegistryPort = DefaultRegistryPort
	}
	if c.DisableCompressionForClientIPs == nil {
		c.DisableCompressionForClientIPs = DefaultNoCompressionClients
	}
	for _, cidr := range c.DisableCompressionForClientIPs {
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("disable compression for client IPs: %w", err)
		}
		c.disableCompressionFor = append(c.disableCompressionFor, prefix.Masked())
	}
	for _, p := range c.ServiceLBPool {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("service LB pool: %w", err)
		}
		c.serviceLBPool = append(c.serviceLBPool, prefix)
	}
	if c.ClusterDNSPort == 0 {
		c.ClusterDNSPort = DefaultClusterDNSPort
	}
	if c.ClusterDNSPort < 0 || c.ClusterDNSPort > 65535 {
		return fmt.Errorf("cluster DNS port %d out of range", c.ClusterDNSPort)
	}
	if c.SecurePort < 0 || c.SecurePort > 65535 {
		return fmt.Errorf("secure port %d out of range", c.SecurePort)
	}
	if c.AdvertiseAddress == "" {
		c.AdvertiseAddress = defaultAdvertiseAddress(c.BindAddress)
	}
	if net.ParseIP(c.AdvertiseAddress) == nil {
		return fmt.Errorf("advertise address %q is not an IP address", c.AdvertiseAddress)
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.43.0.0/16"
	}
	if _, _, err := net.ParseCIDR(c.ServiceCIDR); err != nil {
		return fmt.Errorf("service CIDR: %w", err)
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = "10.42.0.0/16"
	}
	if _, _, err := net.ParseCIDR(c.ClusterCIDR); err != nil {
		return fmt.Errorf("cluster CIDR: %w", err)
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.EtcdPrefix == "" {
		c.EtcdPrefix = "/registry"
	}
	if len(c.EtcdServers) == 0 && (c.EtcdCAFile != "" || c.EtcdCertFile != "" || c.EtcdKeyFile != "") {
		return errors.New("etcd TLS options need --etcd-servers")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return nil
}

// defaultAdvertiseAddress picks the bind address if it is a specific
// non-loopback address, else (as upstream does for loopback and unspecified
// binds) the first global unicast IPv4 address of the host, else loopback.
func defaultAdvertiseAddress(bind string) string {
	if ip := net.ParseIP(bind); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		return ip.String()
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// shutdownTimeout bounds graceful shutdown.
const shutdownTimeout = 5 * time.Second
