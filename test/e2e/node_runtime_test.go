package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/cri"
)

// Looking at the node from below the API: the runtime through the CRI,
// and the marks pods leave on the machine (mounts, veths, cgroups,
// kubelet directories).

// runtime dials the node's containerd (CRI) for the rest of the test.
func (n *nodeTest) runtime() *cri.Remote {
	n.t.Helper()
	endpoint := containerd.Config{DataDir: n.s.agentDir()}.Endpoint()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := cri.Dial(ctx, endpoint)
	if err != nil {
		n.t.Fatalf("dialing the node's runtime at %s: %v", endpoint, err)
	}
	n.t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// agentDir is the data dir of the server's node.
func (s *server) agentDir() string { return filepath.Join(s.dataDir, "agent") }

// runtimeObjects lists the IDs of the sandboxes and containers the
// runtime holds for pods of the test's namespace, in any state.
func (n *nodeTest) runtimeObjects() (sandboxes, containers []string) {
	n.t.Helper()
	rt := n.runtime()
	ctx := context.Background()
	byNamespace := map[string]string{"io.kubernetes.pod.namespace": n.ns}
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: byNamespace})
	if err != nil {
		n.t.Fatal(err)
	}
	for _, sb := range sbs {
		sandboxes = append(sandboxes, sb.Id)
	}
	cs, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: byNamespace})
	if err != nil {
		n.t.Fatal(err)
	}
	for _, c := range cs {
		containers = append(containers, c.Id)
	}
	return sandboxes, containers
}

// runningContainers lists the IDs of the namespace's running containers.
func (n *nodeTest) runningContainers() []string {
	n.t.Helper()
	cs, err := n.runtime().ListContainers(context.Background(), &runtimeapi.ContainerFilter{
		State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
		LabelSelector: map[string]string{"io.kubernetes.pod.namespace": n.ns}})
	if err != nil {
		n.t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.Id)
	}
	return ids
}

// podTraces are the marks the namespace's pods leave on the node, found
// through the runtime while they run.
type podTraces struct {
	agentDir                       string
	sandboxes, containers, podUIDs []string
	veths                          []string // host ends of the pods' veth pairs
}

func (n *nodeTest) podTraces() podTraces {
	n.t.Helper()
	rt := n.runtime()
	tr := podTraces{agentDir: n.s.agentDir()}
	tr.sandboxes, tr.containers = n.runtimeObjects()
	for _, id := range tr.sandboxes {
		st, err := rt.PodSandboxStatus(context.Background(), id, true)
		if err != nil {
			n.t.Fatal(err)
		}
		tr.podUIDs = append(tr.podUIDs, st.Status.Metadata.Uid)
		veths, err := hostVeths(st.Info["info"])
		if err != nil {
			n.t.Fatalf("sandbox %s: %v", id, err)
		}
		tr.veths = append(tr.veths, veths...)
	}
	return tr
}

// hostVeths finds the host-side veth names in containerd's verbose
// sandbox info: the interfaces of the CNI result outside the sandbox.
func hostVeths(info string) ([]string, error) {
	var v struct {
		CNIResult struct {
			Interfaces map[string]struct {
				Sandbox string
			}
		} `json:"cniResult"`
	}
	if err := json.Unmarshal([]byte(info), &v); err != nil {
		return nil, fmt.Errorf("verbose sandbox info: %w", err)
	}
	var out []string
	for name, itf := range v.CNIResult.Interfaces {
		if strings.HasPrefix(name, "veth") && itf.Sandbox == "" {
			out = append(out, name)
		}
	}
	return out, nil
}

// leftovers is what remains of pods on the node.
type leftovers struct {
	sandboxes, containers []string
	mounts                []string // lines of /proc/mounts
	veths                 []string
	cgroups               []string // pod cgroup directories
	podDirs               []string // the kubelet's <root>/pods/<uid>
}

func (l leftovers) empty() bool {
	return len(l.sandboxes)+len(l.containers)+len(l.mounts)+len(l.veths)+len(l.cgroups)+len(l.podDirs) == 0
}

func (l leftovers) String() string {
	var b strings.Builder
	for _, part := range []struct {
		what  string
		items []string
	}{{"sandboxes", l.sandboxes}, {"containers", l.containers}, {"mounts", l.mounts}, {"veths", l.veths},
		{"pod cgroups", l.cgroups}, {"kubelet pod dirs", l.podDirs}} {
		if len(part.items) > 0 {
			fmt.Fprintf(&b, "%s:\n  %s\n", part.what, strings.Join(part.items, "\n  "))
		}
	}
	return b.String()
}

// remaining looks for each trace on the machine (the runtime's own lists
// are the caller's).
func (tr podTraces) remaining() leftovers {
	var l leftovers
	mounts, _ := os.ReadFile("/proc/mounts")
	ids := append(append(append([]string{}, tr.sandboxes...), tr.containers...), tr.podUIDs...)
	for _, line := range strings.Split(string(mounts), "\n") {
		for _, id := range ids {
			if strings.Contains(line, id) {
				l.mounts = append(l.mounts, line)
				break
			}
		}
	}
	for _, v := range tr.veths {
		if _, err := os.Stat(filepath.Join("/sys/class/net", v)); err == nil {
			l.veths = append(l.veths, v)
		}
	}
	for _, uid := range tr.podUIDs {
		if c := podCgroup(uid); c != "" {
			l.cgroups = append(l.cgroups, c)
		}
		if dir := filepath.Join(tr.agentDir, "kubelet", "pods", uid); fileExists(dir) {
			l.podDirs = append(l.podDirs, dir)
		}
	}
	return l
}

// podCgroup describes the pod's cgroup directories under /kubepods in
// every hierarchy, with the processes and child cgroups they still hold;
// "" if there are none.
func podCgroup(uid string) string {
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/kubepods/pod" + uid, "/sys/fs/cgroup/*/kubepods/*/pod" + uid} {
		found, _ := filepath.Glob(pattern)
		dirs = append(dirs, found...)
	}
	if len(dirs) == 0 {
		return ""
	}
	var hierarchies []string
	procs, children := 0, 0
	for _, d := range dirs {
		hierarchies = append(hierarchies, strings.Split(strings.TrimPrefix(d, "/sys/fs/cgroup/"), "/")[0])
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if e.IsDir() && p != d {
				children++
			}
			if e.Name() == "cgroup.procs" {
				b, _ := os.ReadFile(p)
				procs += len(strings.Fields(string(b)))
			}
			return nil
		})
	}
	rel := strings.SplitN(strings.TrimPrefix(dirs[0], "/sys/fs/cgroup/"), "/", 2)[1]
	return fmt.Sprintf("/%s in %d hierarchies (%s): %d processes, %d child cgroups",
		rel, len(dirs), strings.Join(hierarchies, ","), procs, children)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
