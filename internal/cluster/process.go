package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startServer runs `skiff server` in the first node's namespace.
func (c *Cluster) startServer(_ context.Context, extra []string) error {
	n := &c.Nodes[0]
	args := []string{"server", "--data-dir", n.DataDir, "--bind-address", "0.0.0.0",
		"--advertise-address", n.IP, "--node-name", n.Name, "--cgroup-root", n.CgroupRoot}
	return c.start(n, append(args, extra...))
}

// startAgent runs `skiff agent` in node n's namespace.
func (c *Cluster) startAgent(n *Node, token string, extra []string) error {
	args := []string{"agent", "--server", c.ServerURL, "--token", token, "--data-dir", n.DataDir,
		"--node-name", n.Name, "--node-ip", n.IP, "--cgroup-root", n.CgroupRoot}
	return c.start(n, append(args, extra...))
}

// start runs the binary with args in n's network namespace, in a session
// of its own so it outlives the command that made the cluster, logging
// to n.Log.
func (c *Cluster) start(n *Node, args []string) error {
	if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", append([]string{"--net=" + netnsPath(n.Netns), "--", c.Binary}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", n.Name, err)
	}
	n.PID = cmd.Process.Pid
	// Reap it if it dies while this process lives (tests); otherwise
	// init does.
	go func() { _ = cmd.Wait() }()
	c.log.Debug("node started", "node", n.Name, "pid", n.PID, "log", n.Log)
	return c.save()
}

// running reports whether pid is n's live process: not reused by another
// program (its command line names n's data dir) and not a zombie.
func (n *Node) running() bool {
	if n.PID <= 0 {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(n.PID) + "/cmdline")
	if err != nil {
		return false
	}
	// The command line reads empty while the process is in execve (nsenter
	// becoming skiff): that is still ours.
	if len(cmdline) > 0 && !bytes.Contains(cmdline, []byte(n.DataDir)) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(n.PID) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// Kill sends SIGKILL to the node's skiff process alone (what a crash
// does: its containers keep running) and waits for it to go.
func (c *Cluster) Kill(name string) error {
	n, ok := c.Node(name)
	if !ok {
		return fmt.Errorf("no node %q in cluster %s", name, c.Name)
	}
	if !n.running() {
		return fmt.Errorf("node %s is not running", name)
	}
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		return err
	}
	return waitGone(n, 10*time.Second)
}

// stop ends the node's process and everything in its session: SIGTERM,
// then SIGKILL after grace.
func (n *Node) stop(grace time.Duration) error {
	if !n.running() {
		n.PID = 0
		return nil
	}
	_ = syscall.Kill(-n.PID, syscall.SIGTERM)
	_ = syscall.Kill(n.PID, syscall.SIGTERM)
	if waitGone(n, grace) == nil {
		n.PID = 0
		return nil
	}
	_ = syscall.Kill(-n.PID, syscall.SIGKILL)
	_ = syscall.Kill(n.PID, syscall.SIGKILL)
	if err := waitGone(n, 10*time.Second); err != nil {
		return err
	}
	n.PID = 0
	return nil
}

func waitGone(n *Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for n.running() {
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s (pid %d) still running after %v", n.Name, n.PID, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// cleanupNode runs `skiff agent --cleanup` for the node inside its
// namespace, so the pod bridge and nftables it removes are the node's,
// never the host's. A namespace already gone is made again for it.
func (c *Cluster) cleanupNode(ctx context.Context, n *Node) error {
	if _, err := os.Stat(n.AgentDataDir); errors.Is(err, os.ErrNotExist) {
		return nil // never started, or already cleaned
	}
	if _, err := os.Stat(netnsPath(n.Netns)); errors.Is(err, os.ErrNotExist) {
		if _, err := run("ip", "netns", "add", n.Netns); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+netnsPath(n.Netns), "--", c.Binary, "agent", "--cleanup",
		"--data-dir", n.AgentDataDir, "--cgroup-root", n.CgroupRoot, "--log-level", "warn")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("cleaning up node %s: %w\n%s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tail is the end of a log file, for errors about a node that died.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
