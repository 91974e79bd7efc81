package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/cluster"
)

// The multi-node tier: a 3-node cluster made with internal/cluster (what
// `skiff cluster create` runs): the server with its node and two agents,
// each in its own network namespace with its own containerd, joined by a
// bridge the host owns. Nothing here touches the host's own node (the
// node tier's cni0, port 10250, /kubepods), so both tiers share the
// machine.

// multiNodeWeb is the Service under test: the test server's netexec on 6
// replicas spread evenly over the nodes (a tainted, NotReady node is no
// domain). Its pods leave a NotReady node after 2 s instead of 5 min, so
// the agent-loss step is quick.
const multiNodeWeb = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      tolerations:
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor,
         labelSelector: {matchLabels: {app: web}}}
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.52
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8081, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
`

// multiNode is the running cluster and a kubectl bound to it.
type multiNode struct {
	t *testing.T
	c *cluster.Cluster
	s *server // only for kubectl: kubeconfig and cache dir
}

func startMultiNode(t *testing.T, nodes int, serverArgs ...string) *multiNode {
	t.Helper()
	requireKubectl(t)
	if reason := nodeSkipReason(); reason != "" {
		t.Skip(reason)
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("multi-node tests need nsenter (Debian: util-linux)")
	}
	name := fmt.Sprintf("e2e%d", os.Getpid()%100000)
	dir := filepath.Join(os.TempDir(), "skiff-"+name)
	began := time.Now()
	c, err := cluster.Create(context.Background(), cluster.Config{
		Name: name, Nodes: nodes, Subnet: "172.31.250.0/24", DataDir: dir, Binary: skiffBin,
		ServerArgs: serverArgs, ReadyTimeout: 2 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("cluster create: %v", err)
	}
	t.Logf("%d-node cluster Ready after %v", nodes, time.Since(began).Round(time.Millisecond))
	m := &multiNode{t: t, c: c, s: &server{kubeconfigPath: c.Kubeconfig, cacheDir: t.TempDir()}}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("log of %s (tail):\n%s", n.Name, tailFile(n.Log, 40))
			}
		}
		if err := c.Delete(context.Background()); err != nil {
			t.Errorf("cluster delete: %v", err)
		}
		assertClusterGone(t, c)
	})
	return m
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// assertClusterGone checks that delete left nothing of the cluster on
// the host: processes, namespaces, links, mounts, cgroups, files.
func assertClusterGone(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	var left []string
	if _, err := os.Stat(c.DataDir); err == nil {
		left = append(left, "data dir "+c.DataDir)
	}
	for _, n := range c.Nodes {
		if _, err := os.Stat("/run/netns/" + n.Netns); err == nil {
			left = append(left, "netns "+n.Netns)
		}
		if _, err := os.Stat("/sys/class/net/" + n.HostVeth); err == nil {
			left = append(left, "link "+n.HostVeth)
		}
		hier, _ := os.ReadDir("/sys/fs/cgroup")
		for _, h := range hier {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h.Name(), n.CgroupRoot)); err == nil {
				left = append(left, "cgroup "+h.Name()+n.CgroupRoot)
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + c.Bridge); err == nil {
		left = append(left, "bridge "+c.Bridge)
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(mounts), "\n") {
			if strings.Contains(line, c.DataDir) {
				left = append(left, "mount "+line)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), c.DataDir) {
			left = append(left, "process "+filepath.Base(filepath.Dir(p))+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	if len(left) > 0 {
		t.Errorf("cluster delete left behind:\n  %s", strings.Join(left, "\n  "))
	}
}

func (m *multiNode) kubectl(args ...string) string {
	m.t.Helper()
	return m.s.mustKubectl(m.t, args...)
}

// podsByNode maps node name to the Running, Ready pods of app=web on it.
func (m *multiNode) webPods() map[string][]string {
	m.t.Helper()
	out := m.kubectl("get", "pods", "-l", "app=web", "-o",
		`jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.name} {.spec.nodeName} {.status.containerStatuses[0].ready} {.metadata.deletionTimestamp}{"\n"}{end}`)
	byNode := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "true" { // running, ready, not being deleted
			byNode[f[1]] = append(byNode[f[1]], f[0])
		}
	}
	return byNode
}

// waitWeb waits until n web pods are ready, on the given number of nodes.
func (m *multiNode) waitWeb(n, nodes int, timeout time.Duration) map[string][]string {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		byNode := m.webPods()
		total := 0
		for _, p := range byNode {
			total += len(p)
		}
		if total == n && len(byNode) == nodes {
			return byNode
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("want %d ready web pods on %d nodes, have %v\n%s", n, nodes, byNode, m.kubectl("get", "pods", "-o", "wide"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitEndpoints waits until the Service's EndpointSlices list n ready
// addresses.
func (m *multiNode) waitEndpoints(svc string, n int, timeout time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := m.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name="+svc, "-o",
			`jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{"\n"}{end}`)
		if got := len(strings.Fields(out)); got == n {
			return
		} else if time.Now().After(deadline) {
			m.t.Fatalf("service %s has %d ready endpoints, want %d", svc, got, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// dial asks the web pod to make tries requests to host:port and returns
// the hostnames that answered and the errors (a failed exec is one).
func (m *multiNode) dial(pod, host string, port, tries int) (answers, errs []string) {
	m.t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:8080/dial?host=%s&port=%d&request=hostname&tries=%d", host, port, tries)
	out, errOut, err := m.s.kubectl(m.t, "exec", pod, "--", "wget", "-qO-", url)
	if err != nil {
		// A failed exec (kubectl's or wget's) is a failed try, with why:
		// the caller tries again and reports it if every try fails.
		return nil, []string{fmt.Sprintf("exec wget in %s: %v: %s", pod, err, strings.TrimSpace(errOut))}
	}
	var res struct{ Responses, Errors []string }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		m.t.Fatalf("dial from %s to %s:%d: %q is not dial's JSON: %v", pod, host, port, out, err)
	}
	return res.Responses, res.Errors
}

// nodesOf maps answering pod names to their nodes.
func nodesOf(answers []string, byNode map[string][]string) map[string]int {
	seen := map[string]int{}
	for _, a := range answers {
		for node, pods := range byNode {
			if slices.Contains(pods, a) {
				seen[node]++
			}
		}
	}
	return seen
}

// fetchHTTP GETs url on a connection of its own (each request is a new
// connection through the Service's load balancing) and returns the body.
func fetchHTTP(url string, timeout time.Duration) (string, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

// TestMultiNodeServices runs the Service story on three nodes: ClusterIP
// and DNS from every node, headless, NodePort and LoadBalancer from the
// host, scale to zero and back, pods killed under steady load, and an
// agent killed outright.
func TestMultiNodeServices(t *testing.T) {
	m := startMultiNode(t, 3, "--node-monitor-grace-period=20s")
	m.kubectl("apply", "-f", writeFile(t, "web.yaml", multiNodeWeb))
	byNode := m.waitWeb(6, 3, 3*time.Minute)
	for node, pods := range byNode {
		if len(pods) != 2 {
			t.Errorf("node %s has %d web pods, want 2 (maxSkew 1 over 3 nodes): %v", node, len(pods), byNode)
		}
	}
	clusterIP := m.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")

	t.Run("ClusterIP and DNS from every node", func(t *testing.T) {
		// Pods are Ready before every node's proxy has their endpoints:
		// wait for the slice, then give each answer a few seconds.
		m.waitEndpoints("web", 6, 30*time.Second)
		for node, pods := range byNode {
			for _, host := range []string{clusterIP, "web", "web.default", "web.default.svc.cluster.local"} {
				var answers, errs []string
				var seen map[string]int
				for try := 0; try < 5; try++ {
					answers, errs = m.dial(pods[0], host, 80, 24)
					if seen = nodesOf(answers, byNode); len(errs) == 0 && len(answers) == 24 && len(seen) == 3 {
						break
					}
					time.Sleep(time.Second)
				}
				if len(errs) > 0 || len(answers) != 24 || len(seen) != 3 {
					t.Errorf("from %s (%s) to %s: %d answers from nodes %v (want all 3), errors %v", pods[0], node, host, len(answers), seen, errs)
				}
			}
		}
	})

	t.Run("headless Service returns every pod IP", func(t *testing.T) {
		ips := strings.Fields(m.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"))
		var pod string
		for _, p := range byNode {
			pod = p[0]
		}
		out := m.kubectl("exec", pod, "--", "/agnhost", "dnslookup", "web-headless.default.svc.cluster.local")
		for _, ip := range ips {
			if !strings.Contains(out, ip) {
				t.Errorf("headless lookup %q lacks pod IP %s (pods %v)", out, ip, ips)
			}
		}
	})

	npPort := m.kubectl("get", "svc", "web-np", "-o", "jsonpath={.spec.ports[0].nodePort}")
	t.Run("NodePort on every node from the host", func(t *testing.T) {
		for _, n := range m.c.Nodes {
			seen := map[string]bool{}
			for range 12 {
				out, err := fetchHTTP("http://"+n.IP+":"+npPort+"/hostname", 3*time.Second)
				if err != nil {
					t.Fatalf("NodePort on %s: %v", n.Name, err)
				}
				seen[out] = true
			}
			if len(seen) < 2 {
				t.Errorf("NodePort on %s answered only from %v", n.Name, seen)
			}
		}
	})

	t.Run("LoadBalancer gets an address and answers", func(t *testing.T) {
		var ingress string
		deadline := time.Now().Add(30 * time.Second)
		for ingress == "" && time.Now().Before(deadline) {
			ingress = m.kubectl("get", "svc", "web-lb", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
			if ingress == "" {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if ingress == "" {
			t.Fatalf("web-lb still <pending>:\n%s", m.kubectl("get", "svc", "web-lb", "-o", "yaml"))
		}
		if out, err := fetchHTTP("http://"+ingress+":8081/hostname", 3*time.Second); err != nil || !strings.HasPrefix(out, "web-") {
			t.Errorf("LoadBalancer %s:8081 answered %q, %v", ingress, out, err)
		}
	})

	t.Run("scaled to zero, connections fail fast; scaled back, they work", func(t *testing.T) {
		m.kubectl("scale", "deployment", "web", "--replicas=0")
		url := "http://" + m.c.Nodes[1].IP + ":" + npPort + "/hostname"
		deadline := time.Now().Add(30 * time.Second)
		for {
			start := time.Now()
			_, err := fetchHTTP(url, 5*time.Second)
			took := time.Since(start)
			if err != nil && strings.Contains(err.Error(), "refused") {
				if took > time.Second {
					t.Errorf("a Service without endpoints took %v to refuse", took)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("with 0 replicas, NodePort still gives %v (after %v)", err, took)
			}
			time.Sleep(200 * time.Millisecond)
		}
		m.kubectl("scale", "deployment", "web", "--replicas=6")
		byNode = m.waitWeb(6, 3, 2*time.Minute)
		deadline = time.Now().Add(15 * time.Second)
		for {
			if _, err := fetchHTTP(url, 3*time.Second); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("after scaling back: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("pods killed under 100 req/s", func(t *testing.T) {
		url := "http://" + m.c.Nodes[0].IP + ":" + npPort + "/hostname"
		var total, failed, lateFailed atomic.Int64
		var settled atomic.Bool
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					total.Add(1)
					if _, err := fetchHTTP(url, 3*time.Second); err != nil {
						failed.Add(1)
						if settled.Load() {
							lateFailed.Add(1)
						}
					}
				}()
			}
		}()
		time.Sleep(2 * time.Second)
		var victims []string
		for _, pods := range byNode {
			victims = append(victims, pods[0])
		}
		m.kubectl(append([]string{"delete", "pod", "--wait=false"}, victims...)...)
		byNode = m.waitWeb(6, 3, 2*time.Minute)
		time.Sleep(3 * time.Second) // endpoints settle: replacements ready, victims gone
		settled.Store(true)
		time.Sleep(5 * time.Second)
		close(stop)
		wg.Wait()
		t.Logf("steady 100 req/s while %d pods were replaced: %d requests, %d failed during churn, %d after endpoints settled",
			len(victims), total.Load(), failed.Load(), lateFailed.Load())
		if lateFailed.Load() > 0 {
			t.Errorf("%d requests failed after endpoints settled", lateFailed.Load())
		}
	})

	t.Run("an agent killed: its node goes NotReady, its pods move, traffic follows", func(t *testing.T) {
		victim := m.c.Nodes[2]
		began := time.Now()
		if err := m.c.Kill(victim.Name); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for {
			ready := m.kubectl("get", "node", victim.Name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if ready != "True" {
				t.Logf("node %s Ready=%s after %v", victim.Name, ready, time.Since(began).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s still Ready %v after its agent was killed", victim.Name, time.Since(began))
			}
			time.Sleep(500 * time.Millisecond)
		}
		for {
			byNode = m.webPods()
			total := 0
			for _, p := range byNode {
				total += len(p)
			}
			if _, stale := byNode[victim.Name]; !stale && total == 6 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("web pods not replaced off %s: %v\n%s", victim.Name, byNode, m.kubectl("get", "pods", "-o", "wide"))
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("6 web pods ready off %s after %v", victim.Name, time.Since(began).Round(time.Millisecond))
		url := "http://" + m.c.Nodes[0].IP + ":" + npPort + "/hostname"
		deadline = time.Now().Add(30 * time.Second)
		for {
			ok := 0
			for range 20 {
				if out, err := fetchHTTP(url, 3*time.Second); err == nil && strings.HasPrefix(out, "web-") {
					ok++
				}
			}
			if ok == 20 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Service traffic did not move off %s: %d/20 requests answered", victim.Name, ok)
			}
			time.Sleep(time.Second)
		}
	})
}

// TestClusterCommand drives `skiff cluster create` and `skiff cluster
// delete` as a user would, and checks delete leaves the host as it was.
func TestClusterCommand(t *testing.T) {
	requireKubectl(t)
	if reason := nodeSkipReason(); reason != "" {
		t.Skip(reason)
	}
	name := fmt.Sprintf("cli%d", os.Getpid()%100000)
	dir := filepath.Join(os.TempDir(), "skiff-"+name)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, skiffBin, append(args, "--name", name, "--data-dir", dir)...).CombinedOutput()
		if err != nil {
			t.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("cluster", "create", "--nodes", "2", "--subnet", "172.31.251.0/24")
	c, err := cluster.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = c.Delete(context.Background())
		}
	})
	wantContains(t, "create output", out, "is ready: 2 nodes", c.Kubeconfig)
	s := &server{kubeconfigPath: c.Kubeconfig, cacheDir: t.TempDir()}
	nodes := s.mustKubectl(t, "get", "nodes", "--no-headers")
	wantMatches(t, "nodes", nodes, name+`-server\s+Ready`, name+`-agent-1\s+Ready`)

	if _, err := exec.Command(skiffBin, "cluster", "create", "--name", name, "--data-dir", dir).CombinedOutput(); err == nil {
		t.Error("creating a cluster that exists succeeded")
	}
	wantContains(t, "delete output", run("cluster", "delete"), "deleted")
	deleted = true
	assertClusterGone(t, c)
}
