package framework

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Defaults that scoring (not filtering) charges for a container without
// requests, so that request-less pods still spread. Same values as
// upstream's non-zero defaults.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of schedulable resources. Scalar holds extended
// resources (e.g. example.com/gpu, hugepages-2Mi); a nil map means none.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Scalar           map[corev1.ResourceName]int64
}

// NewResource converts a ResourceList. The pods count is not a Resource:
// read it with AllowedPods.
func NewResource(rl corev1.ResourceList) Resource {
	var r Resource
	r.AddList(rl)
	return r
}

// AddList adds every quantity in rl except pods.
func (r *Resource) AddList(rl corev1.ResourceList) {
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case corev1.ResourcePods:
		default:
			if r.Scalar == nil {
				r.Scalar = map[corev1.ResourceName]int64{}
			}
			r.Scalar[name] += q.Value()
		}
	}
}

// Add adds o to r.
func (r *Resource) Add(o Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

// Sub subtracts o from r.
func (r *Resource) Sub(o Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] -= v
	}
}

// SetMax raises each amount of r to at least o's.
func (r *Resource) SetMax(o Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

// Clone returns a copy that shares nothing with r.
func (r Resource) Clone() Resource {
	if r.Scalar != nil {
		m := make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			m[k] = v
		}
		r.Scalar = m
	}
	return r
}

// ScalarNames returns the extended resource names of r, sorted.
// Most pods have none: then it allocates nothing, as it runs for every
// node a pod is filtered against.
func (r Resource) ScalarNames() []corev1.ResourceName {
	if len(r.Scalar) == 0 {
		return nil
	}
	names := make([]corev1.ResourceName, 0, len(r.Scalar))
	for k := range r.Scalar {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// containerRequests is what one container asks for: its requests, or its
// limits where a request is missing (the apiserver defaults requests to
// limits, so this only matters for objects built by hand).
func containerRequests(c *corev1.Container) corev1.ResourceList {
	if len(c.Resources.Limits) == 0 {
		return c.Resources.Requests
	}
	rl := corev1.ResourceList{}
	for k, v := range c.Resources.Limits {
		rl[k] = v
	}
	for k, v := range c.Resources.Requests {
		rl[k] = v
	}
	return rl
}

// nonZero is a container's cpu and memory request with scoring defaults
// for the ones it leaves out.
func nonZero(rl corev1.ResourceList) (cpu, mem int64) {
	cpu, mem = DefaultMilliCPURequest, DefaultMemoryRequest
	if q, ok := rl[corev1.ResourceCPU]; ok {
		cpu = q.MilliValue()
	}
	if q, ok := rl[corev1.ResourceMemory]; ok {
		mem = q.Value()
	}
	return cpu, mem
}

// PodRequests computes what a pod occupies on a node: the larger of the sum
// of its containers (plus restartable init containers, i.e. sidecars, which
// keep running) and the peak of any init container step (that init
// container plus the sidecars started before it), plus the pod overhead.
// The second result is the same computation with scoring defaults for
// unset cpu/memory requests, as (MilliCPU, Memory).
func PodRequests(pod *corev1.Pod) (req Resource, nonZeroReq Resource) {
	for i := range pod.Spec.Containers {
		rl := containerRequests(&pod.Spec.Containers[i])
		req.AddList(rl)
		c, m := nonZero(rl)
		nonZeroReq.MilliCPU += c
		nonZeroReq.Memory += m
	}
	var sidecars, sidecarsNZ, initPeak, initPeakNZ Resource
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		rl := containerRequests(ic)
		c, m := nonZero(rl)
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.AddList(rl)
			sidecarsNZ.MilliCPU += c
			sidecarsNZ.Memory += m
			initPeak.SetMax(sidecars)
			initPeakNZ.SetMax(sidecarsNZ)
			continue
		}
		step := sidecars.Clone()
		step.AddList(rl)
		initPeak.SetMax(step)
		initPeakNZ.SetMax(Resource{MilliCPU: sidecarsNZ.MilliCPU + c, Memory: sidecarsNZ.Memory + m})
	}
	req.Add(sidecars)
	nonZeroReq.Add(sidecarsNZ)
	req.SetMax(initPeak)
	nonZeroReq.SetMax(initPeakNZ)
	if pod.Spec.Overhead != nil {
		req.AddList(pod.Spec.Overhead)
		o := NewResource(pod.Spec.Overhead)
		nonZeroReq.MilliCPU += o.MilliCPU
		nonZeroReq.Memory += o.Memory
	}
	return req, nonZeroReq
}
