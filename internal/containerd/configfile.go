package containerd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// disabledPlugins are containerd 1.6 plugins a skiff node never uses:
// snapshotters other than overlayfs and native, tracing, and "opt", which
// would install things under /opt outside the data dir. Leaving them out
// makes start faster and the log quieter. (The shim v1 runtime cannot go:
// the tasks service, and so the CRI, requires it.)
var disabledPlugins = []string{
	"io.containerd.internal.v1.opt",
	"io.containerd.internal.v1.tracing",
	"io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
	"io.containerd.tracing.processor.v1.otlp",
}

// configData is what configTemplate renders.
type configData struct {
	Config
	DisabledPlugins     []string
	RestrictOOMScoreAdj bool
	RuncRoot            string
	HostsDir            string
}

// configTemplate is containerd 1.6's config, version 2. Every path is
// under the data dir: debug and metrics listeners are off, ttrpc sits
// beside the gRPC socket, runc keeps its state under State, and sandbox
// network namespaces are mounted under State (netns_mounts_under_state_dir)
// so two nodes on one host never share /var/run/netns entries and Cleanup
// finds them all. Pulls go through per-registry hosts.toml files
// (config_path), the mechanism 1.6 documents in place of the deprecated
// mirrors table. The unprivileged port and ICMP sysctls match newer
// containerd defaults, which Kubernetes users expect.
var configTemplate = template.Must(template.New("config.toml").Funcs(template.FuncMap{"q": tomlString}).Parse(`# Written by skiff; rewritten on every start.
version = 2
root = {{q .Root}}
state = {{q .State}}
oom_score = 0
disabled_plugins = [{{range $i, $p := .DisabledPlugins}}{{if $i}}, {{end}}{{q $p}}{{end}}]

[grpc]
  address = {{q .Socket}}
  uid = 0
  gid = 0

[ttrpc]
  address = {{q (printf "%s.ttrpc" .Socket)}}

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {{q .SandboxImage}}
  restrict_oom_score_adj = {{.RestrictOOMScoreAdj}}
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_tcp_service = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = {{q .RuncRoot}}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = {{q .CNIBinDir}}
    conf_dir = {{q .CNIConfDir}}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = {{q .HostsDir}}
`))

// renderConfig returns containerd's config.toml for c (with defaults).
func renderConfig(c Config, restrictOOMScoreAdj bool) ([]byte, error) {
	var buf bytes.Buffer
	err := configTemplate.Execute(&buf, configData{
		Config:              c,
		DisabledPlugins:     disabledPlugins,
		RestrictOOMScoreAdj: restrictOOMScoreAdj,
		RuncRoot:            filepath.Join(c.State, "runc"),
		HostsDir:            c.HostsDir(),
	})
	if err != nil {
		return nil, fmt.Errorf("containerd: rendering config: %w", err)
	}
	return buf.Bytes(), nil
}

// hostsFiles returns the hosts.toml content for each registry host that
// pulls through c.RegistryMirror, keyed by the host directory name. The
// mirror is the registry's server as well as its one host, so a pull
// never falls through to the internet when the mirror lacks an image.
// (containerd 1.6 ignores a hosts.toml without a [host] table, hence the
// host entry that repeats the server.)
func hostsFiles(c Config) (map[string][]byte, error) {
	if c.RegistryMirror == "" {
		return nil, nil
	}
	u, err := mirrorURL(c.RegistryMirror)
	if err != nil {
		return nil, err
	}
	server := u.Scheme + "://" + u.Host
	content := []byte(fmt.Sprintf(`# Written by skiff.
server = %[1]s

[host.%[1]s]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`, tomlString(server)))
	files := map[string][]byte{}
	for _, host := range append(append([]string(nil), c.MirroredRegistries...), u.Host) {
		files[host] = content
	}
	return files, nil
}

// writeConfig writes config.toml and the registry hosts directory,
// replacing what an earlier start wrote.
func writeConfig(c Config, restrictOOMScoreAdj bool) error {
	conf, err := renderConfig(c, restrictOOMScoreAdj)
	if err != nil {
		return err
	}
	hosts, err := hostsFiles(c)
	if err != nil {
		return err
	}
	for _, dir := range []string{c.Dir(), c.Root, c.State, c.CNIConfDir, filepath.Dir(c.Socket)} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	if err := os.RemoveAll(c.HostsDir()); err != nil {
		return fmt.Errorf("containerd: clearing registry hosts: %w", err)
	}
	for host, content := range hosts {
		dir := filepath.Join(c.HostsDir(), host)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hosts.toml"), content, 0o644); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	if err := os.WriteFile(c.ConfigPath(), conf, 0o600); err != nil {
		return fmt.Errorf("containerd: writing config: %w", err)
	}
	return nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
