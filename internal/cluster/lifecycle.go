package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// waitServer waits for the server to answer /readyz on the bridge, then
// writes the host's kubeconfig and returns the join token.
func (c *Cluster) waitServer(ctx context.Context, timeout time.Duration) (string, error) {
	n := &c.Nodes[0]
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	admin := filepath.Join(n.DataDir, "admin.kubeconfig")
	for {
		if !n.running() {
			return "", fmt.Errorf("server %s exited:\n%s", n.Name, tail(n.Log, 30))
		}
		if err := c.writeKubeconfig(admin); err == nil {
			if cfg, err := c.RESTConfig(); err == nil {
				if client, err := kubernetes.NewForConfig(cfg); err == nil {
					if _, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err == nil {
						break
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("server %s not ready: %w\n%s", n.Name, ctx.Err(), tail(n.Log, 30))
		case <-time.After(200 * time.Millisecond):
		}
	}
	token, err := os.ReadFile(filepath.Join(n.DataDir, "token"))
	if err != nil {
		return "", fmt.Errorf("join token: %w", err)
	}
	return strings.TrimSpace(string(token)), nil
}

// writeKubeconfig copies the server's admin kubeconfig with the server's
// bridge address, which the host can reach.
func (c *Cluster) writeKubeconfig(admin string) error {
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		return err
	}
	for _, cl := range cfg.Clusters {
		cl.Server = c.ServerURL
	}
	return clientcmd.WriteToFile(*cfg, c.Kubeconfig)
}

// RESTConfig reaches the cluster's API server from the host.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
}

// waitNodesReady waits until every node is registered and Ready.
func (c *Cluster) waitNodesReady(ctx context.Context, timeout time.Duration) error {
	cfg, err := c.RESTConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var waiting []string
	for {
		waiting = waiting[:0]
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		for _, n := range c.Nodes {
			if !n.running() {
				return fmt.Errorf("node %s exited:\n%s", n.Name, tail(n.Log, 30))
			}
			if err != nil || !nodeReady(nodes.Items, n.Name) {
				waiting = append(waiting, n.Name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes %s not Ready: %w", strings.Join(waiting, ", "), ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func nodeReady(nodes []corev1.Node, name string) bool {
	i := slices.IndexFunc(nodes, func(n corev1.Node) bool { return n.Name == name })
	return i >= 0 && controllerutil.IsNodeReady(&nodes[i])
}

// Delete stops every node, cleans each one up inside its namespace
// (pods, mounts, cgroups, nftables, the pod bridge, its data), removes
// the namespaces, links and bridge, then the cluster's directory. It
// carries on past errors and reports them all; run it again to finish.
func (c *Cluster) Delete(ctx context.Context) error {
	var errs []error
	for i := len(c.Nodes) - 1; i >= 0; i-- { // agents first, the server last
		if err := c.Nodes[i].stop(20 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.save(); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for i := range c.Nodes {
		if err := c.cleanupNode(ctx, &c.Nodes[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.removeNetwork(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // keep the state for another try
	}
	return os.RemoveAll(c.DataDir)
}
