package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// healthServers serves the health-check node ports of load balancers
// with externalTrafficPolicy: Local. A cloud load balancer probes each
// node's port and sends traffic only to nodes answering 200, i.e. nodes
// with a local endpoint; the others answer 503.
type healthServers struct {
	host string // address to bind, "" for all
	log  *slog.Logger

	mu      sync.Mutex
	servers map[int32]*healthServer
}

type healthServer struct {
	srv   *http.Server
	mu    sync.Mutex
	state HealthCheck
}

func newHealthServers(host string, log *slog.Logger) *healthServers {
	return &healthServers{host: host, log: log, servers: map[int32]*healthServer{}}
}

// sync makes the set of open ports match want: new ports start
// listening, vanished ones close, the others get their new counts. A port
// that cannot be opened (in use) is logged and tried again next sync.
func (h *healthServers) sync(want map[int32]HealthCheck) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for port, s := range h.servers {
		if _, ok := want[port]; !ok {
			_ = s.srv.Close()
			delete(h.servers, port)
		}
	}
	for port, hc := range want {
		if s := h.servers[port]; s != nil {
			s.mu.Lock()
			s.state = hc
			s.mu.Unlock()
			continue
		}
		s := &healthServer{state: hc}
		ln, err := net.Listen("tcp", net.JoinHostPort(h.host, strconv.Itoa(int(port))))
		if err != nil {
			h.log.Warn("cannot serve health-check node port", "port", port, "service", hc.Namespace+"/"+hc.Name, "err", err)
			continue
		}
		s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.log.Warn("health-check node port stopped", "port", port, "err", err)
			}
		}()
		h.servers[port] = s
	}
}

func (h *healthServers) closeAll() { h.sync(nil) }

// ServeHTTP answers kube-proxy's format, so load balancers configured for
// it work unchanged.
func (s *healthServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	hc := s.state
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if hc.LocalEndpoints == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	body, _ := json.Marshal(map[string]any{
		"service":             map[string]string{"namespace": hc.Namespace, "name": hc.Name},
		"localEndpoints":      hc.LocalEndpoints,
		"serviceProxyHealthy": true,
	})
	fmt.Fprintf(w, "%s\n", body)
}
