// Package cluster makes a local multi-node skiff cluster on one machine,
// the way kind does with containers but without Docker: each node is a
// network namespace with its own address on a bridge the host owns, and
// runs its own skiff process — the first `skiff server` (with its own
// node), the others `skiff agent` — each with its own containerd, data
// directory and cgroup root. Processes share the host's mount namespace,
// so the agents' own cleanup (`skiff agent --cleanup`) finds their mounts.
//
// Create records everything it makes in <DataDir>/cluster.json before
// making it, so Delete can undo a cluster that was only half made, and a
// later `skiff cluster delete` finds it by name. Delete leaves the host
// as it was: no process, namespace, link, route, nftables table, mount,
// cgroup or file of the cluster remains.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Defaults for Config.
const (
	DefaultName    = "skiff"
	DefaultSubnet  = "172.30.0.0/24"
	DefaultRootDir = "/var/lib/skiff/clusters"
	stateFile      = "cluster.json"
)

// Config describes a cluster to create.
type Config struct {
	// Name identifies the cluster (a DNS label; default "skiff"). Node
	// names, namespaces and links derive from it.
	Name string
	// Nodes counts every node, the server's own included (default 1).
	Nodes int
	// Subnet joins the nodes (default 172.30.0.0/24): the host's bridge
	// takes the first address, node i the (i+1)th.
	Subnet string
	// DataDir holds every node's data, their logs, the state file and the
	// kubeconfig (default /var/lib/skiff/clusters/<name>).
	DataDir string
	// Binary is the skiff executable the nodes run (default: this one).
	Binary string
	// ServerArgs and AgentArgs are extra flags for the nodes' commands.
	ServerArgs, AgentArgs []string
	// ReadyTimeout bounds waiting for every node to be Ready (default 3m).
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

// Node is one node of a cluster as Create made it.
type Node struct {
	Name string `json:"name"`
	// Server is true for the node that runs `skiff server`.
	Server bool `json:"server,omitempty"`
	// Netns is the node's network namespace (under /run/netns).
	Netns string `json:"netns"`
	// IP is the node's address on the cluster's bridge.
	IP string `json:"ip"`
	// HostVeth is the host end of the node's link to the bridge.
	HostVeth string `json:"hostVeth"`
	// DataDir is the node's skiff data dir; AgentDataDir the part its
	// agent cleanup removes (the server keeps its node under agent/).
	DataDir      string `json:"dataDir"`
	AgentDataDir string `json:"agentDataDir"`
	CgroupRoot   string `json:"cgroupRoot"`
	Log          string `json:"log"`
	// PID is the node's skiff process (0 when not running).
	PID int `json:"pid,omitempty"`
}

// State is what a cluster is made of; it is saved as cluster.json.
type State struct {
	Name     string `json:"name"`
	Subnet   string `json:"subnet"`
	Bridge   string `json:"bridge"`
	BridgeIP string `json:"bridgeIP"`
	DataDir  string `json:"dataDir"`
	Binary   string `json:"binary"`
	// Kubeconfig reaches the server from the host.
	Kubeconfig string `json:"kubeconfig"`
	// ServerURL is the API server's address on the bridge.
	ServerURL string `json:"serverURL"`
	Nodes     []Node `json:"nodes"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$`)

func (c *Config) validate() error {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("cluster name %q: want lowercase letters, digits and '-', at most 32", c.Name)
	}
	if c.Nodes == 0 {
		c.Nodes = 1
	}
	if c.Subnet == "" {
		c.Subnet = DefaultSubnet
	}
	p, err := netip.ParsePrefix(c.Subnet)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("subnet %q is not an IPv4 prefix", c.Subnet)
	}
	if max := 1<<(32-p.Bits()) - 3; c.Nodes < 1 || c.Nodes > max || c.Nodes > 250 {
		return fmt.Errorf("nodes %d: want 1 to %d for subnet %s", c.Nodes, min(max, 250), c.Subnet)
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join(DefaultRootDir, c.Name)
	}
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return err
	}
	if c.Binary == "" {
		if c.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("finding the skiff binary: %w", err)
		}
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 3 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// plan lays out the cluster's state from a validated config.
func plan(c Config) State {
	p := netip.MustParsePrefix(c.Subnet).Masked()
	// Link names are at most 15 bytes: a short hash of the name keeps
	// clusters apart.
	sum := sha256.Sum256([]byte(c.Name))
	tag := "sk" + hex.EncodeToString(sum[:])[:6]
	addr := p.Addr().Next()
	st := State{Name: c.Name, Subnet: p.String(), Bridge: tag + "br", BridgeIP: addr.String(),
		DataDir: c.DataDir, Binary: c.Binary, Kubeconfig: filepath.Join(c.DataDir, "kubeconfig")}
	for i := 0; i < c.Nodes; i++ {
		addr = addr.Next()
		name := fmt.Sprintf("%s-agent-%d", c.Name, i)
		if i == 0 {
			name = c.Name + "-server"
		}
		dir := filepath.Join(c.DataDir, name)
		n := Node{Name: name, Server: i == 0, Netns: "skiff-" + name, IP: addr.String(),
			HostVeth: tag + "v" + strconv.Itoa(i), DataDir: dir, AgentDataDir: dir,
			CgroupRoot: "/skiff-" + name, Log: filepath.Join(c.DataDir, name+".log")}
		if n.Server {
			n.AgentDataDir = filepath.Join(dir, "agent")
		}
		st.Nodes = append(st.Nodes, n)
	}
	st.ServerURL = "https://" + st.Nodes[0].IP + ":6443"
	return st
}

// Cluster is a cluster made by Create or found by Load.
type Cluster struct {
	State
	log *slog.Logger
}

// Load finds the cluster whose state is in dataDir.
func Load(dataDir string, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.Default()
	}
	b, err := os.ReadFile(filepath.Join(dataDir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no cluster in %s: %w", dataDir, err)
	}
	if err != nil {
		return nil, err
	}
	c := &Cluster{log: log}
	if err := json.Unmarshal(b, &c.State); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dataDir, stateFile), err)
	}
	return c, nil
}

// save writes the state atomically.
func (c *Cluster) save() error {
	b, err := json.MarshalIndent(c.State, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.DataDir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.DataDir, stateFile))
}

// Node returns the node called name.
func (c *Cluster) Node(name string) (*Node, bool) {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i], true
		}
	}
	return nil, false
}

// Create makes the cluster and waits until every node is Ready. On
// failure it removes what it made, unless ctx ended.
func Create(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, stateFile)); err == nil {
		return nil, fmt.Errorf("cluster %q already exists (%s); delete it first with `skiff cluster delete --name %s`",
			cfg.Name, cfg.DataDir, cfg.Name)
	}
	if err := preflight(cfg); err != nil {
		return nil, err
	}
	c := &Cluster{State: plan(cfg), log: cfg.Logger}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := c.save(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if derr := c.Delete(context.Background()); derr != nil {
				c.log.Warn("removing the half-made cluster", "err", derr)
			}
		}
	}()
	began := time.Now()
	if err := c.makeNetwork(ctx); err != nil {
		return nil, err
	}
	if err := c.startServer(ctx, cfg.ServerArgs); err != nil {
		return nil, err
	}
	token, err := c.waitServer(ctx, cfg.ReadyTimeout)
	if err != nil {
		return nil, err
	}
	for i := range c.Nodes[1:] {
		if err := c.startAgent(&c.Nodes[i+1], token, cfg.AgentArgs); err != nil {
			return nil, err
		}
	}
	if err := c.save(); err != nil {
		return nil, err
	}
	if err := c.waitNodesReady(ctx, cfg.ReadyTimeout); err != nil {
		return nil, err
	}
	c.log.Info("cluster ready", "name", c.Name, "nodes", len(c.Nodes), "after", time.Since(began).Round(time.Millisecond),
		"kubeconfig", c.Kubeconfig)
	return c, nil
}
