package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// startSpec is what starting one container needs beyond its spec.
type startSpec struct {
	pod          *corev1.Pod
	container    *corev1.Container
	kind         string // "", containerKindInit or containerKindSidecar
	restartCount int
	sandbox      *runtimeapi.PodSandboxStatus
	sandboxCfg   *runtimeapi.PodSandboxConfig
	podIPs       []string
	volumes      map[string]string
}

// containerConfig builds the CRI config of one container instance.
// Errors are configuration errors (CreateContainerConfigError): missing
// ConfigMaps/Secrets/keys, runAsNonRoot violations, bad subPaths.
func (k *Kubelet) containerConfig(ctx context.Context, s *startSpec, imageRef string) (*runtimeapi.ContainerConfig, error) {
	pod, c := s.pod, s.container
	env, err := k.makeEnv(ctx, pod, c, s.podIPs)
	if err != nil {
		return nil, err
	}
	if err := k.checkImageUser(ctx, pod, c, imageRef); err != nil {
		return nil, err
	}
	mounts, err := k.makeMounts(pod, c, s.volumes, env)
	if err != nil {
		return nil, err
	}
	if !k.cfg.Hollow {
		if err := os.MkdirAll(filepath.Join(k.podLogDir(pod), c.Name), 0o755); err != nil {
			return nil, fmt.Errorf("create container log directory for container %s failed: %w", c.Name, err)
		}
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(s.restartCount)},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     expandAll(c.Command, env.lookup),
		Args:        expandAll(c.Args, env.lookup),
		WorkingDir:  c.WorkingDir,
		Labels:      containerLabels(pod, c),
		Annotations: containerAnnotations(pod, c, s.restartCount, s.kind),
		Mounts:      mounts,
		LogPath:     filepath.Join(c.Name, strconv.Itoa(s.restartCount)+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       k.containerResources(pod, c),
			SecurityContext: containerSecurityContext(pod, c),
		},
	}
	for _, v := range env.vars() {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: v.name, Value: []byte(v.value)})
	}
	return cfg, nil
}

// checkImageUser enforces runAsNonRoot against the image's user when the
// pod does not set runAsUser.
func (k *Kubelet) checkImageUser(ctx context.Context, pod *corev1.Pod, c *corev1.Container, imageRef string) error {
	e := effectiveSecurityOf(pod, c)
	if e.runAsNonRoot == nil || !*e.runAsNonRoot || e.runAsUser != nil {
		return verifyRunAsNonRoot(pod, c, nil, "")
	}
	resp, err := k.images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: imageRef}, false)
	if err != nil {
		return fmt.Errorf("inspect image %q: %w", c.Image, err)
	}
	var uid *int64
	user := ""
	if img := resp.GetImage(); img != nil {
		if img.Uid != nil {
			v := img.Uid.Value
			uid = &v
		}
		user = img.Username
	}
	return verifyRunAsNonRoot(pod, c, uid, user)
}

// containerResources converts requests and limits to cgroup settings:
// cpu shares from the request, a CFS quota from the limit, the memory
// limit, and oom_score_adj by QoS class.
func (k *Kubelet) containerResources(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerResources {
	res := &runtimeapi.LinuxContainerResources{}
	cpuReq, hasReq := c.Resources.Requests[corev1.ResourceCPU]
	cpuLim, hasLim := c.Resources.Limits[corev1.ResourceCPU]
	switch {
	case hasReq:
		res.CpuShares = milliCPUToShares(cpuReq.MilliValue())
	case hasLim:
		res.CpuShares = milliCPUToShares(cpuLim.MilliValue())
	default:
		res.CpuShares = minShares
	}
	if hasLim {
		res.CpuQuota = milliCPUToQuota(cpuLim.MilliValue())
		res.CpuPeriod = quotaPeriod
	}
	if mem, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		res.MemoryLimitInBytes = mem.Value()
	}
	memCap := k.machine.capacity[corev1.ResourceMemory]
	res.OomScoreAdj = oomScoreAdj(podQOS(pod), c, memCap.Value(), k.machine.canLowerOOMScore)
	return res
}
