package kubelet

import (
	"context"
	"os"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// gcContainers removes a pod's dead containers beyond MaxDeadContainers
// per container name (the newest dead ones carry its state and
// lastState), with their logs, and its dead sandboxes that are neither
// the newest nor hold containers. pr must be fresh.
func (k *Kubelet) gcContainers(ctx context.Context, pod *corev1.Pod, pr *podRuntime) {
	dead := map[string]int{}
	keep := map[string]bool{}         // sandbox ids still holding containers
	for _, c := range pr.containers { // newest first
		if c.running() || c.State == runtimeapi.ContainerState_CONTAINER_CREATED {
			keep[c.sandboxID] = true
			continue
		}
		dead[c.name()]++
		if dead[c.name()] <= k.cfg.MaxDeadContainers {
			keep[c.sandboxID] = true
			continue
		}
		if err := k.runtime.RemoveContainer(ctx, c.Id); err != nil {
			k.log.Info("container GC: remove failed", "id", c.Id, "err", err)
			keep[c.sandboxID] = true
			continue
		}
		if c.LogPath != "" && !k.cfg.Hollow {
			_ = os.Remove(c.LogPath)
		}
	}
	for i, sb := range pr.sandboxes {
		if i == 0 || sb.State == runtimeapi.PodSandboxState_SANDBOX_READY || keep[sb.Id] {
			continue
		}
		if err := k.runtime.RemovePodSandbox(ctx, sb.Id); err != nil {
			k.log.Info("sandbox GC: remove failed", "id", sb.Id, "err", err)
		}
	}
}
