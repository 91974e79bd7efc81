package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// netnsDir is where `ip netns` keeps named network namespaces.
const netnsDir = "/run/netns"

func netnsPath(name string) string { return filepath.Join(netnsDir, name) }

// preflight checks what Create needs before it changes anything.
func preflight(cfg Config) error {
	if os.Geteuid() != 0 {
		return errors.New("making a local cluster needs root (network namespaces, links, cgroups)")
	}
	for _, bin := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not on PATH (Debian: iproute2, util-linux)", bin)
		}
	}
	st := plan(cfg)
	if linkExists(st.Bridge) {
		return fmt.Errorf("link %s already exists: another cluster named %q? (skiff cluster delete --name %s)", st.Bridge, cfg.Name, cfg.Name)
	}
	for _, n := range st.Nodes {
		if _, err := os.Stat(netnsPath(n.Netns)); err == nil {
			return fmt.Errorf("network namespace %s already exists: delete the old cluster first", n.Netns)
		}
	}
	subnet := netip.MustParsePrefix(st.Subnet)
	out, err := run("ip", "-4", "-o", "route", "show", "table", "all")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if f[0] == "local" || f[0] == "broadcast" || f[0] == "unicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if dst == "default" {
			continue
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		p, err := netip.ParsePrefix(dst)
		if err == nil && p.Overlaps(subnet) {
			return fmt.Errorf("subnet %s overlaps the host's route %q: choose another with --subnet", st.Subnet, strings.TrimSpace(line))
		}
	}
	return nil
}

// makeNetwork makes the bridge and, per node, its namespace and link.
// Each step is one the Delete path undoes whether or not it happened.
func (c *Cluster) makeNetwork(ctx context.Context) error {
	bits := strconv.Itoa(netip.MustParsePrefix(c.Subnet).Bits())
	steps := [][]string{
		{"ip", "link", "add", c.Bridge, "type", "bridge"},
		{"ip", "addr", "add", c.BridgeIP + "/" + bits, "dev", c.Bridge},
		{"ip", "link", "set", c.Bridge, "up"},
	}
	for _, n := range c.Nodes {
		steps = append(steps,
			[]string{"ip", "netns", "add", n.Netns},
			[]string{"ip", "link", "add", n.HostVeth, "type", "veth", "peer", "name", "eth0", "netns", n.Netns},
			[]string{"ip", "link", "set", n.HostVeth, "master", c.Bridge, "up"},
			[]string{"ip", "-n", n.Netns, "addr", "add", n.IP + "/" + bits, "dev", "eth0"},
			[]string{"ip", "-n", n.Netns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", n.Netns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", n.Netns, "route", "add", "default", "via", c.BridgeIP},
		)
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// removeNetwork deletes the namespaces, links and bridge; missing ones
// are not errors.
func (c *Cluster) removeNetwork() error {
	var errs []error
	for _, n := range c.Nodes {
		if _, err := os.Stat(netnsPath(n.Netns)); err == nil {
			if _, err := run("ip", "netns", "del", n.Netns); err != nil {
				errs = append(errs, err)
			}
		}
		// Deleting the namespace deletes the veth pair, a moment later.
		if linkExists(n.HostVeth) {
			if _, err := run("ip", "link", "del", n.HostVeth); err != nil && linkExists(n.HostVeth) {
				errs = append(errs, err)
			}
		}
	}
	if linkExists(c.Bridge) {
		if _, err := run("ip", "link", "del", c.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// run runs a command and returns its output; the error carries stderr.
func run(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
