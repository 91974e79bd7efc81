package kubelet

import (
	"context"
	"fmt"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

// podRuntime is what the runtime holds for one pod UID: the kubelet's
// only record of a pod's containers, read fresh on every sync, so a
// restarted kubelet sees exactly what the previous one left.
type podRuntime struct {
	sandboxes  []*runtimeapi.PodSandboxStatus // newest first
	containers []*runtimeContainer            // newest first
}

type runtimeContainer struct {
	*runtimeapi.ContainerStatus
	sandboxID string
}

func (c *runtimeContainer) name() string { return c.GetMetadata().GetName() }

func (c *runtimeContainer) running() bool {
	return c.State == runtimeapi.ContainerState_CONTAINER_RUNNING
}

func (c *runtimeContainer) exited() bool {
	return c.State == runtimeapi.ContainerState_CONTAINER_EXITED
}

// readPodRuntime lists uid's sandboxes and containers with their status.
// Objects that vanish between list and status are skipped.
func (k *Kubelet) readPodRuntime(ctx context.Context, uid types.UID) (*podRuntime, error) {
	sel := map[string]string{kubetypes.PodUIDLabel: string(uid)}
	sbs, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	ctrs, err := k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	pr := &podRuntime{}
	for _, sb := range sbs {
		resp, err := k.runtime.PodSandboxStatus(ctx, sb.Id, false)
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sandbox status %s: %w", sb.Id, err)
		}
		pr.sandboxes = append(pr.sandboxes, resp.Status)
	}
	for _, c := range ctrs {
		resp, err := k.runtime.ContainerStatus(ctx, c.Id, false)
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("container status %s: %w", c.Id, err)
		}
		pr.containers = append(pr.containers, &runtimeContainer{ContainerStatus: resp.Status, sandboxID: c.PodSandboxId})
	}
	sort.SliceStable(pr.sandboxes, func(i, j int) bool {
		a, b := pr.sandboxes[i], pr.sandboxes[j]
		if a.GetMetadata().GetAttempt() != b.GetMetadata().GetAttempt() {
			return a.GetMetadata().GetAttempt() > b.GetMetadata().GetAttempt()
		}
		return a.CreatedAt > b.CreatedAt
	})
	sort.SliceStable(pr.containers, func(i, j int) bool {
		a, b := pr.containers[i], pr.containers[j]
		if a.CreatedAt != b.CreatedAt {
			return a.CreatedAt > b.CreatedAt
		}
		return restartCountOf(a.Annotations) > restartCountOf(b.Annotations)
	})
	return pr, nil
}

// empty says nothing of the pod is left in the runtime.
func (pr *podRuntime) empty() bool { return len(pr.sandboxes) == 0 && len(pr.containers) == 0 }

// sandbox is the newest sandbox, in any state, or nil.
func (pr *podRuntime) sandbox() *runtimeapi.PodSandboxStatus {
	if len(pr.sandboxes) == 0 {
		return nil
	}
	return pr.sandboxes[0]
}

// readySandbox is the newest sandbox if it is ready.
func (pr *podRuntime) readySandbox() *runtimeapi.PodSandboxStatus {
	if sb := pr.sandbox(); sb != nil && sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
		return sb
	}
	return nil
}

// latest is the newest container of that name in any sandbox.
func (pr *podRuntime) latest(name string) *runtimeContainer {
	for _, c := range pr.containers {
		if c.name() == name {
			return c
		}
	}
	return nil
}

// previous is the container of that name before the newest.
func (pr *podRuntime) previous(name string) *runtimeContainer {
	seen := false
	for _, c := range pr.containers {
		if c.name() == name {
			if seen {
				return c
			}
			seen = true
		}
	}
	return nil
}

// latestIn is the newest container of that name in sandbox sandboxID.
func (pr *podRuntime) latestIn(name, sandboxID string) *runtimeContainer {
	for _, c := range pr.containers {
		if c.name() == name && c.sandboxID == sandboxID {
			return c
		}
	}
	return nil
}

// running lists the running containers.
func (pr *podRuntime) running() []*runtimeContainer {
	var out []*runtimeContainer
	for _, c := range pr.containers {
		if c.running() {
			out = append(out, c)
		}
	}
	return out
}

// sandboxIPs are the newest sandbox's IPs, primary first.
func sandboxIPs(sb *runtimeapi.PodSandboxStatus) []string {
	var ips []string
	if ip := sb.GetNetwork().GetIp(); ip != "" {
		ips = append(ips, ip)
	}
	for _, extra := range sb.GetNetwork().GetAdditionalIps() {
		if extra.GetIp() != "" {
			ips = append(ips, extra.GetIp())
		}
	}
	return ips
}
