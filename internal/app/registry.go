package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/skiff-sh/skiff/internal/images"
)

// The local image registry (DESIGN.md §6). The server serves it on
// loopback with two admin paths for `skiff image`, and read-only (GET and
// HEAD) on its advertise address for the other nodes' containerd mirrors.
const (
	DefaultRegistryPort = 6444
	imagesListPath      = "/skiff/v1/images"
	imagesImportPath    = "/skiff/v1/images/import"
)

// localRegistry is the registry a server runs.
type localRegistry struct {
	reg     *images.Registry
	servers []*http.Server
	seeded  chan struct{} // closed once the built-in images are in
	log     *slog.Logger
}

func openLocalRegistry(dataDir string, log *slog.Logger) (*localRegistry, error) {
	reg, err := images.OpenRegistry(images.RegistryConfig{Dir: filepath.Join(dataDir, "registry"), Logger: log})
	if err != nil {
		return nil, err
	}
	return &localRegistry{reg: reg, seeded: make(chan struct{}), log: log}, nil
}

// serve listens on loopback (full access, admin paths) and, when
// advertise is not loopback, on advertise (pulls only).
func (l *localRegistry) serve(advertise string, port int) error {
	admin := http.NewServeMux()
	admin.HandleFunc(imagesListPath, l.serveList)
	admin.HandleFunc(imagesImportPath, l.serveImport)
	admin.Handle("/", l.reg)
	addrs := []struct {
		addr string
		h    http.Handler
	}{{net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), admin}}
	if ip := net.ParseIP(advertise); ip != nil && !ip.IsLoopback() {
		addrs = append(addrs, struct {
			addr string
			h    http.Handler
		}{net.JoinHostPort(advertise, strconv.Itoa(port)), pullOnly(l.reg)})
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			l.close()
			return fmt.Errorf("image registry: listen %s: %w", a.addr, err)
		}
		srv := &http.Server{Handler: a.h, ReadHeaderTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(l.log.Handler(), slog.LevelDebug)}
		l.servers = append(l.servers, srv)
		go func() { _ = srv.Serve(ln) }()
	}
	return nil
}

// seed pushes the built-in images; agents wait for it before pulling.
func (l *localRegistry) seed(ctx context.Context) {
	defer close(l.seeded)
	start := time.Now()
	if err := images.Seed(ctx, l.reg); err != nil {
		l.log.Error("seeding the built-in images failed: pods naming them will not start", "err", err)
		return
	}
	l.log.Info("built-in images ready", "took", time.Since(start).Round(time.Millisecond))
}

func (l *localRegistry) close() {
	for _, s := range l.servers {
		_ = s.Close()
	}
}

func pullOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "this address of the registry is read-only; push through the server's loopback address", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (l *localRegistry) serveList(w http.ResponseWriter, r *http.Request) {
	list, err := images.List(l.reg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// serveImport takes an image archive as the request body.
func (l *localRegistry) serveImport(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an image archive", http.StatusMethodNotAllowed)
		return
	}
	f, err := os.CreateTemp("", "skiff-import-*.tar")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, r.Body); err != nil {
		http.Error(w, "reading the archive: "+err.Error(), http.StatusBadRequest)
		return
	}
	names, err := images.Import(r.Context(), l.reg, f.Name())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(names)
}
