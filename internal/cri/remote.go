// Package cri is skiff's client of the Container Runtime Interface: a gRPC
// client over a unix socket that implements cri-api's RuntimeService and
// ImageManagerService (runtime API v1), so the kubelet depends on those
// interfaces only and can run against containerd, CRI-O, or the in-memory
// runtime in internal/cri/fake. It owns no runtime: starting containerd is
// internal/containerd's job.
//
// Errors keep their gRPC status (status.Code and errors.As see through the
// wrapping), so callers test them with IsNotFound, IsUnimplemented or
// status.Code; ExecSync reports a non-zero exit as *ExitError.
package cri

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	criapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// DefaultTimeout bounds each call that has no duration of its own, as
	// the kubelet's --runtime-request-timeout does (2m upstream).
	DefaultTimeout = 2 * time.Minute
	// MaxMessageSize is the largest gRPC message sent or received: list
	// answers on a busy node are large, and upstream uses the same 16 MiB.
	MaxMessageSize = 16 << 20
	// APIVersion is the only runtime API version skiff speaks.
	APIVersion = "v1"
	// dialTimeout bounds Dial's version check when ctx has no deadline.
	dialTimeout = 30 * time.Second
)

// Remote is a CRI client over one gRPC connection. It is safe for
// concurrent use. Every method wraps the runtime's error with the method
// name and the object it was about; the gRPC code survives the wrapping.
type Remote struct {
	endpoint string
	conn     *grpc.ClientConn
	runtime  runtimeapi.RuntimeServiceClient
	images   runtimeapi.ImageServiceClient
	timeout  time.Duration
	version  *runtimeapi.VersionResponse
}

var (
	_ criapi.RuntimeService      = (*Remote)(nil)
	_ criapi.ImageManagerService = (*Remote)(nil)
)

// Option adjusts a Remote at Dial.
type Option func(*Remote)

// WithTimeout sets the per-call timeout (default DefaultTimeout). Calls
// that carry their own duration (StopContainer, ExecSync) get it on top;
// PullImage is bounded only by its context, as pulls may take long.
func WithTimeout(d time.Duration) Option {
	return func(r *Remote) {
		if d > 0 {
			r.timeout = d
		}
	}
}

// Dial connects to the runtime at endpoint ("unix:///run/x.sock" or an
// absolute socket path) and checks that it serves runtime API v1. The
// check waits for the socket until ctx ends (at most 30s without a
// deadline), so Dial right after starting a runtime is fine.
func Dial(ctx context.Context, endpoint string, opts ...Option) (*Remote, error) {
	target, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("cri: dial %s: %w", endpoint, err)
	}
	r := &Remote{
		endpoint: endpoint,
		conn:     conn,
		runtime:  runtimeapi.NewRuntimeServiceClient(conn),
		images:   runtimeapi.NewImageServiceClient(conn),
		timeout:  DefaultTimeout,
	}
	for _, o := range opts {
		o(r)
	}
	if err := r.checkVersion(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return r, nil
}

// parseEndpoint turns endpoint into a gRPC target. Only unix sockets are
// accepted: CRI runtimes listen on them, and a TCP endpoint would be an
// unauthenticated root shell on the network.
func parseEndpoint(endpoint string) (string, error) {
	path := endpoint
	switch {
	case endpoint == "":
		return "", errors.New("cri: empty runtime endpoint")
	case strings.HasPrefix(endpoint, "unix://"):
		path = strings.TrimPrefix(endpoint, "unix://")
	case strings.Contains(endpoint, "://"):
		return "", fmt.Errorf("cri: endpoint %q: only unix:// sockets are supported", endpoint)
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("cri: endpoint %q: socket path must be absolute", endpoint)
	}
	return "unix://" + path, nil
}

// checkVersion asks the runtime for its version, waiting for the socket
// to appear, and insists on API v1.
func (r *Remote) checkVersion(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dialTimeout)
		defer cancel()
	}
	resp, err := r.runtime.Version(ctx, &runtimeapi.VersionRequest{Version: APIVersion}, grpc.WaitForReady(true))
	if err != nil {
		if IsUnimplemented(err) {
			return fmt.Errorf("cri: runtime at %s does not serve CRI runtime API %s: %w", r.endpoint, APIVersion, err)
		}
		return fmt.Errorf("cri: runtime at %s did not answer Version (is it running?): %w", r.endpoint, err)
	}
	if resp.RuntimeApiVersion != APIVersion {
		return fmt.Errorf("cri: runtime at %s (%s %s) speaks API %q, need %q",
			r.endpoint, resp.RuntimeName, resp.RuntimeVersion, resp.RuntimeApiVersion, APIVersion)
	}
	r.version = resp
	return nil
}

// Endpoint is the endpoint Remote was dialled with.
func (r *Remote) Endpoint() string { return r.endpoint }

// RuntimeVersion is the Version answer Dial checked: runtime name,
// version and API version.
func (r *Remote) RuntimeVersion() *runtimeapi.VersionResponse { return r.version }

// Close closes the connection; the runtime is not affected.
func (r *Remote) Close(context.Context) error {
	return r.conn.Close()
}

// callCtx bounds one call by the per-call timeout plus extra.
func (r *Remote) callCtx(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.timeout+extra)
}
