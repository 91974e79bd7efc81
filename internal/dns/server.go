package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Server is the cluster DNS server. Make one with New and start it with
// Run.
type Server struct {
	cfg     Config
	log     *slog.Logger
	zone    *zone
	fwd     *forwarder
	factory informers.SharedInformerFactory

	runCtx  atomic.Pointer[context.Context]
	started atomic.Bool
	ready   chan struct{}
	mu      sync.Mutex
	addrs   []string // bound addresses, set before ready closes
}

// New checks cfg and prepares a Server; nothing listens until Run.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	registerMetrics()

	upstreams := make([]string, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		n, _ := normalizeUpstream(u) // validated
		upstreams = append(upstreams, n)
	}
	if len(upstreams) == 0 {
		found, skipped, err := resolvConfUpstreams(cfg.ResolvConf)
		if err != nil {
			return nil, err
		}
		// A host whose resolv.conf already names the cluster DNS would
		// have it forward to itself.
		found = slices.DeleteFunc(found, func(u string) bool {
			if slices.Contains(cfg.Listen, u) {
				skipped = append(skipped, u)
				return true
			}
			return false
		})
		if len(skipped) > 0 {
			cfg.Logger.Info("cluster DNS does not forward to loopback resolvers", "resolvConf", cfg.ResolvConf, "skipped", skipped)
		}
		if len(found) == 0 {
			cfg.Logger.Warn("cluster DNS has no upstream resolvers: names outside the cluster will fail (SERVFAIL)", "resolvConf", cfg.ResolvConf)
		}
		upstreams = found
	}

	factory := informers.NewSharedInformerFactory(cfg.Client, 0)
	services := factory.Core().V1().Services().Informer()
	slices := factory.Discovery().V1().EndpointSlices().Informer()
	for _, inf := range []struct {
		informer cache.SharedIndexInformer
		indexers cache.Indexers
	}{{services, serviceIndexers()}, {slices, sliceIndexers()}} {
		for name := range inf.informer.GetIndexer().GetIndexers() {
			delete(inf.indexers, name) // the factory's namespace index
		}
		if err := inf.informer.AddIndexers(inf.indexers); err != nil {
			return nil, fmt.Errorf("dns: adding indexes: %w", err)
		}
		if err := inf.informer.SetTransform(dropManagedFields); err != nil {
			return nil, fmt.Errorf("dns: setting informer transform: %w", err)
		}
	}

	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		factory: factory,
		fwd:     newForwarder(upstreams, newResponseCache(cfg.CacheSize, time.Now)),
		ready:   make(chan struct{}),
	}
	cat := catalog{services: services.GetIndexer(), slices: slices.GetIndexer()}
	s.zone = newZone(cfg.Domain, uint32(cfg.TTL/time.Second), cat, listenIPs(cfg.Listen), serialNow())
	return s, nil
}

// dropManagedFields keeps the informers' caches small: the zone never
// reads managed fields.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// listenIPs are the specific addresses served on, which the zone's NS
// record names (ns.dns.<zone>).
func listenIPs(listen []string) []net.IP {
	var out []net.IP
	for _, l := range listen {
		host, _, _ := net.SplitHostPort(l)
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			out = append(out, ip)
		}
	}
	return out
}

// Ready is closed once the informers have synced and every address is
// served: from then on the server answers from a complete view.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the first Listen address as bound (its port resolved if it was
// 0), served over UDP and TCP alike; "" until Ready.
func (s *Server) Addr() string {
	if a := s.Addrs(); len(a) > 0 {
		return a[0]
	}
	return ""
}

// Addrs are every Listen address as bound, in Config order; nil until
// Ready.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// Run syncs the informers, then serves every Listen address over UDP and
// TCP until ctx ends. It does not listen before the informers have synced,
// so no client is told NXDOMAIN for a Service that exists. Run may be
// called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("dns: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runCtx.Store(&ctx)

	s.factory.Start(ctx.Done())
	defer func() {
		cancel()             // stops the informers...
		s.factory.Shutdown() // ...and waits for their goroutines
	}()
	for typ, ok := range s.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dns: %v informer did not sync", typ)
		}
	}

	servers, bound, err := s.bind()
	if err != nil {
		return err
	}
	errs := make(chan error, len(servers))
	var wg sync.WaitGroup
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				errs <- err
			}
		}()
		select { // Shutdown is only safe once a server has started
		case <-started:
		case err := <-errs:
			cancel()
			shutdownAll(servers)
			wg.Wait()
			return fmt.Errorf("dns: serving: %w", err)
		}
	}

	s.mu.Lock()
	s.addrs = bound
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("serving cluster DNS", "domain", s.cfg.Domain, "listen", bound, "upstreams", s.fwd.upstreams)

	select {
	case <-ctx.Done():
	case err = <-errs:
		err = fmt.Errorf("dns: serving: %w", err)
	}
	shutdownAll(servers)
	wg.Wait()
	return err
}

// bind opens a UDP and a TCP socket for every Listen address, and a
// server for each; nothing is served yet.
func (s *Server) bind() (servers []*dns.Server, bound []string, err error) {
	for _, addr := range s.cfg.Listen {
		pc, ln, err := listenBoth(addr)
		if err != nil {
			shutdownAll(servers)
			return nil, nil, err
		}
		bound = append(bound, pc.LocalAddr().String())
		servers = append(servers,
			&dns.Server{PacketConn: pc, Handler: handler{s: s}, UDPSize: dns.DefaultMsgSize},
			&dns.Server{Listener: ln, Handler: handler{s: s, tcp: true}})
	}
	return servers, bound, nil
}

// shutdownAll stops the servers that started and closes every socket,
// including those of servers that never started.
func shutdownAll(servers []*dns.Server) {
	for _, srv := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.ShutdownContext(ctx) // "server not started" for the others
		cancel()
		if srv.PacketConn != nil {
			_ = srv.PacketConn.Close() // already closed for a started one
		}
		if srv.Listener != nil {
			_ = srv.Listener.Close()
		}
	}
}

// listenBoth binds addr over UDP and TCP on the same port; with port 0 it
// picks one free for both.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	host, port, _ := net.SplitHostPort(addr) // validated
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		bound := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if port != "0" {
			break // a fixed port taken over TCP: trying again will not help
		}
	}
	return nil, nil, fmt.Errorf("dns: listen tcp %s: %w", addr, lastErr)
}
