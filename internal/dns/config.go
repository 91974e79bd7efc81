package dns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes"
)

// Defaults for Config.
const (
	DefaultDomain     = "cluster.local"
	DefaultResolvConf = "/etc/resolv.conf"
	// DefaultTTL is CoreDNS's kubernetes plugin default: short, because
	// Services and endpoints change and clients cache what they get.
	DefaultTTL       = 5 * time.Second
	DefaultCacheSize = 10000
	// maxTTL bounds Config.TTL; cluster records are not meant to live long.
	maxTTL = time.Hour
)

// Config is the cluster DNS server's configuration. Client and Listen are
// required; every other zero value takes its default.
type Config struct {
	// Client reads Services and EndpointSlices.
	Client kubernetes.Interface
	// Domain is the cluster domain (default cluster.local).
	Domain string
	// Listen are host:port addresses served over both UDP and TCP, e.g.
	// "10.43.0.10:53". Port 0 picks a free port, the same for UDP and TCP.
	Listen []string
	// Upstreams are the resolvers ("ip" or "ip:port") names outside the
	// cluster domain are forwarded to. Default: the nameservers of
	// ResolvConf, without loopback addresses (see upstreams.go).
	Upstreams []string
	// ResolvConf is read for upstreams when Upstreams is empty (default
	// /etc/resolv.conf).
	ResolvConf string
	// TTL of cluster records and of the zone's negative answers (default
	// 5s, whole seconds, at most an hour).
	TTL time.Duration
	// CacheSize caps the forwarded answers kept (default 10000).
	CacheSize int
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// validate reports every problem with c at once.
func (c *Config) validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("dns: Client is required"))
	}
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("dns: at least one Listen address is required"))
	}
	for _, l := range c.Listen {
		if _, _, err := net.SplitHostPort(l); err != nil {
			errs = append(errs, fmt.Errorf("dns: Listen %q: %w", l, err))
		}
	}
	if c.Domain != "" {
		if _, ok := dns.IsDomainName(c.Domain); !ok || strings.Trim(c.Domain, ".") == "" {
			errs = append(errs, fmt.Errorf("dns: Domain %q is not a domain name", c.Domain))
		}
	}
	for _, u := range c.Upstreams {
		if _, err := normalizeUpstream(u); err != nil {
			errs = append(errs, fmt.Errorf("dns: Upstreams: %w", err))
		}
	}
	if c.TTL < 0 || c.TTL > maxTTL || c.TTL%time.Second != 0 {
		errs = append(errs, fmt.Errorf("dns: TTL %v must be whole seconds between 0 and %v", c.TTL, maxTTL))
	}
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("dns: CacheSize %d is negative", c.CacheSize))
	}
	return errors.Join(errs...)
}

// setDefaults fills zero fields; validate must pass first.
func (c *Config) setDefaults() {
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	c.Domain = dns.CanonicalName(c.Domain)
	if c.ResolvConf == "" {
		c.ResolvConf = DefaultResolvConf
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// normalizeUpstream turns "ip" or "ip:port" into "ip:port".
func normalizeUpstream(s string) (string, error) {
	host, port := s, "53"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("%q is not an IP address or IP:port", s)
	}
	return net.JoinHostPort(host, port), nil
}
