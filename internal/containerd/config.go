// Package containerd runs the containerd that serves a skiff node's CRI:
// it writes containerd's config (paths under skiff's data dir, registry
// mirrors, the runc runtime on cgroupfs, OOM-score handling for hosts
// without CAP_SYS_RESOURCE), starts containerd as a supervised child
// process, and cleans up after it. It does not speak CRI beyond checking
// readiness and Cleanup: the kubelet does that through internal/cri.
package containerd

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Defaults for Config.
const (
	DefaultCNIBinDir    = "/usr/lib/cni"
	DefaultSandboxImage = "registry.k8s.io/pause:3.10"
	DefaultBinary       = "containerd"
	defaultStartTimeout = time.Minute
	defaultStopTimeout  = 10 * time.Second
	// maxSocketPath is the longest unix socket path the kernel accepts
	// (sun_path is 108 bytes with the NUL), less ".ttrpc", which
	// containerd appends for its second socket.
	maxSocketPath = 107 - len(".ttrpc")
)

// DefaultMirroredRegistries are the registries whose pulls go to
// Config.RegistryMirror unless Config.MirroredRegistries says otherwise.
var DefaultMirroredRegistries = []string{"docker.io", "registry.k8s.io", "ghcr.io", "quay.io"}

// Config says where a node's containerd keeps its files and how it pulls
// and runs containers. Only DataDir is required; every path defaults under
// <DataDir>/containerd, so a managed containerd never shares files with a
// system containerd or with another node's.
type Config struct {
	// DataDir is the node's data directory.
	DataDir string
	// Root and State are containerd's persistent and runtime directories
	// (default <DataDir>/containerd/root and .../state).
	Root, State string
	// Socket is the gRPC (and CRI) socket (default
	// <DataDir>/containerd/containerd.sock); ttrpc listens beside it.
	Socket string
	// CNIBinDir holds the CNI plugins (default /usr/lib/cni, Debian's
	// location). CNIConfDir is where pod network configs are read from
	// (default <DataDir>/cni/net.d); whoever owns pod networking writes it.
	CNIBinDir, CNIConfDir string
	// SandboxImage is the pause image of every sandbox (default
	// registry.k8s.io/pause:3.10).
	SandboxImage string
	// RegistryMirror, if set, is the URL (http:// or https://) of a
	// registry that serves MirroredRegistries' images; pulls of those, and
	// of the mirror's own host, go to it only.
	RegistryMirror string
	// MirroredRegistries are the registry hosts (as in image names) that
	// pull through RegistryMirror (default DefaultMirroredRegistries); the
	// mirror's own host always does. "_default" stands for every registry
	// without an entry of its own.
	MirroredRegistries []string
	// CgroupParent is the cgroupfs parent (e.g. "/skiff-node1") the
	// kubelet places the node's pods under. It must be the node's alone:
	// Cleanup kills whatever still runs in it and removes it. Empty: none.
	CgroupParent string
	// Binary is the containerd executable (default "containerd" on PATH).
	Binary string
	// StartTimeout bounds waiting for the CRI socket to answer (default
	// 1m); StopTimeout is how long Stop waits after SIGTERM before SIGKILL
	// (default 10s).
	StartTimeout, StopTimeout time.Duration
	// Logger receives start, stop and restart events; default slog.Default().
	Logger *slog.Logger
}

// Dir is the directory that holds everything of the managed containerd
// by default: <DataDir>/containerd.
func (c Config) Dir() string { return filepath.Join(c.DataDir, "containerd") }

// ConfigPath is containerd's config file; LogPath its stdout and stderr;
// HostsDir the registry hosts directory (hosts.toml per registry).
func (c Config) ConfigPath() string { return filepath.Join(c.Dir(), "config.toml") }
func (c Config) LogPath() string    { return filepath.Join(c.Dir(), "containerd.log") }
func (c Config) HostsDir() string   { return filepath.Join(c.Dir(), "certs.d") }

// Endpoint is the CRI endpoint for cri.Dial: unix://<Socket>.
func (c Config) Endpoint() string { return "unix://" + c.WithDefaults().Socket }

// WithDefaults returns c with every empty field set to its default.
func (c Config) WithDefaults() Config {
	dir := c.Dir()
	if c.Root == "" {
		c.Root = filepath.Join(dir, "root")
	}
	if c.State == "" {
		c.State = filepath.Join(dir, "state")
	}
	if c.Socket == "" {
		c.Socket = filepath.Join(dir, "containerd.sock")
	}
	if c.CNIBinDir == "" {
		c.CNIBinDir = DefaultCNIBinDir
	}
	if c.CNIConfDir == "" {
		c.CNIConfDir = filepath.Join(c.DataDir, "cni", "net.d")
	}
	if c.MirroredRegistries == nil {
		c.MirroredRegistries = DefaultMirroredRegistries
	}
	if c.SandboxImage == "" {
		c.SandboxImage = DefaultSandboxImage
	}
	if c.Binary == "" {
		c.Binary = DefaultBinary
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = defaultStartTimeout
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = defaultStopTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first problem with c (after defaults).
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("containerd: no data dir")
	}
	c = c.WithDefaults()
	for name, p := range map[string]string{
		"data dir": c.DataDir, "root": c.Root, "state": c.State, "socket": c.Socket,
		"CNI bin dir": c.CNIBinDir, "CNI conf dir": c.CNIConfDir,
	} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("containerd: %s %q is not an absolute path", name, p)
		}
	}
	if len(c.Socket) > maxSocketPath {
		return fmt.Errorf("containerd: socket path %q is %d bytes, longer than the %d a unix socket allows", c.Socket, len(c.Socket), maxSocketPath)
	}
	if c.RegistryMirror != "" {
		if _, err := mirrorURL(c.RegistryMirror); err != nil {
			return err
		}
	}
	for _, host := range c.MirroredRegistries {
		if host == "" || strings.ContainsAny(host, "/\\ ") || host == "." || host == ".." {
			return fmt.Errorf("containerd: mirrored registry %q is not a registry host", host)
		}
	}
	if c.CgroupParent != "" && (!strings.HasPrefix(c.CgroupParent, "/") || strings.Contains(c.CgroupParent, "..")) {
		return fmt.Errorf("containerd: cgroup parent %q must be an absolute cgroupfs path", c.CgroupParent)
	}
	if c.StartTimeout < 0 || c.StopTimeout < 0 {
		return errors.New("containerd: negative start or stop timeout")
	}
	return nil
}

// mirrorURL parses a registry mirror URL: http or https, a host, no path.
func mirrorURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("containerd: registry mirror %q: want http(s)://host[:port]: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("containerd: registry mirror %q: want http(s)://host[:port]", raw)
	}
	return u, nil
}
