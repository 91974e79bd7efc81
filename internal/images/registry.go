package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// Dir holds the registry's data (blobs, manifests, index); created if
	// missing. Required.
	Dir string
	// Logger receives request errors at debug level (default: discard).
	Logger *slog.Logger
}

// Validate reports configuration mistakes.
func (c *RegistryConfig) Validate() error {
	if c.Dir == "" {
		return errors.New("registry: Dir is required")
	}
	return nil
}

// Registry is skiff's local image registry, speaking the OCI distribution
// API (the Docker registry v2 API). containerd is configured to use it as a
// mirror of docker.io, registry.k8s.io, ghcr.io and quay.io, so it stores
// images by the repository path a mirror is asked for: docker.io's
// "busybox:1.36" is "library/busybox", registry.k8s.io/pause is "pause".
// Repositories of the same path on different upstream registries are one
// and the same here (ghcr.io/a/b and quay.io/a/b are both "a/b").
//
// Blob transfers are go-containerregistry's registry handler over a disk
// blob store; manifests, tags and the catalog are served from skiff's own
// persistent index. Everything lives under RegistryConfig.Dir and survives
// restarts. Blobs are shared by all repositories. There is no
// authentication (serve it on loopback and node addresses only) and no
// garbage collection.
type Registry struct {
	log       *slog.Logger
	dir       string
	blobs     *blobStore
	manifests *manifestStore
	blobAPI   http.Handler
}

var _ http.Handler = (*Registry)(nil)

// OpenRegistry opens (creating if needed) the registry stored in cfg.Dir.
func OpenRegistry(cfg RegistryConfig) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	blobs, err := openBlobStore(filepath.Join(cfg.Dir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	manifests, err := openManifestStore(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return &Registry{
		log:       log,
		dir:       cfg.Dir,
		blobs:     blobs,
		manifests: manifests,
		blobAPI: registry.New(
			registry.WithBlobHandler(blobs),
			registry.Logger(slog.NewLogLogger(log.Handler(), slog.LevelDebug)),
		),
	}, nil
}

// Serve answers registry requests on ln until ctx is done, then shuts
// down gracefully. It closes ln.
func (r *Registry) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	<-served
	return nil
}

// ServeHTTP routes a distribution API request: manifests, tags and the
// catalog to the index; blobs, uploads and the /v2/ ping to the blob API.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	path := req.URL.Path
	if path != "/v2" && !strings.HasPrefix(path, "/v2/") {
		r.fail(w, req, regErr(http.StatusNotFound, "NOT_FOUND", "%s is not part of the registry API", path))
		return
	}
	elems := strings.Split(strings.TrimPrefix(path, "/v2/"), "/")
	n := len(elems)
	switch {
	case path == "/v2/_catalog":
		r.serveCatalog(w, req)
	case elems[n-1] == "_catalog":
		r.fail(w, req, regErr(http.StatusNotFound, "NOT_FOUND", "the catalog is at /v2/_catalog"))
	case n >= 3 && elems[n-2] == "manifests":
		r.serveManifest(w, req, strings.Join(elems[:n-2], "/"), elems[n-1])
	case n >= 3 && elems[n-2] == "tags":
		if elems[n-1] != "list" {
			r.fail(w, req, regErr(http.StatusNotFound, "NOT_FOUND", "tags are listed at /v2/<name>/tags/list"))
			return
		}
		r.serveTags(w, req, strings.Join(elems[:n-2], "/"))
	default:
		r.blobAPI.ServeHTTP(w, req)
	}
}

func (r *Registry) fail(w http.ResponseWriter, req *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errInternal(err)
	}
	r.log.Debug("registry request failed", "method", req.Method, "path", req.URL.Path, "status", e.Status, "code", e.Code, "err", e.Message)
	e.write(w, req.Method == http.MethodHead)
}

func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, repo, ref string) {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		m, err := r.manifests.get(repo, ref)
		if err != nil {
			r.fail(w, req, err)
			return
		}
		w.Header().Set("Content-Type", string(m.MediaType))
		w.Header().Set("Docker-Content-Digest", m.Digest.String())
		w.Header().Set("Content-Length", strconv.Itoa(len(m.Body)))
		w.WriteHeader(http.StatusOK)
		if req.Method == http.MethodGet {
			_, _ = w.Write(m.Body)
		}
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(req.Body, maxManifestSize+1))
		if err != nil {
			r.fail(w, req, regErr(http.StatusBadRequest, "MANIFEST_INVALID", "reading manifest: %v", err))
			return
		}
		digest, err := r.manifests.put(repo, ref, types.MediaType(req.Header.Get("Content-Type")), body, r.blobs)
		if err != nil {
			r.fail(w, req, err)
			return
		}
		w.Header().Set("Location", "/v2/"+repo+"/manifests/"+digest.String())
		w.Header().Set("Docker-Content-Digest", digest.String())
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		if err := r.manifests.delete(repo, ref); err != nil {
			r.fail(w, req, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		r.fail(w, req, regErr(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on manifests", req.Method))
	}
}

func (r *Registry) serveTags(w http.ResponseWriter, req *http.Request, repo string) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		r.fail(w, req, regErr(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on tags", req.Method))
		return
	}
	tags, err := r.manifests.tags(repo)
	if err != nil {
		r.fail(w, req, err)
		return
	}
	page, err := paginate(tags, req)
	if err != nil {
		r.fail(w, req, err)
		return
	}
	writeJSON(w, req, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, page})
}

func (r *Registry) serveCatalog(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		r.fail(w, req, regErr(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on the catalog", req.Method))
		return
	}
	page, err := paginate(r.manifests.repositories(), req)
	if err != nil {
		r.fail(w, req, err)
		return
	}
	writeJSON(w, req, struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// paginate applies the spec's ?last= and ?n= to a sorted list.
func paginate(sorted []string, req *http.Request) ([]string, error) {
	q := req.URL.Query()
	if last := q.Get("last"); last != "" {
		i := 0
		for i < len(sorted) && sorted[i] <= last {
			i++
		}
		sorted = sorted[i:]
	}
	if s := q.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, regErr(http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "n=%q is not a count", s)
		}
		if n < len(sorted) {
			sorted = sorted[:n]
		}
	}
	if sorted == nil {
		sorted = []string{}
	}
	return sorted, nil
}
