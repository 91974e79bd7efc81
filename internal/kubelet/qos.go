package kubelet

import (
	"path"

	corev1 "k8s.io/api/core/v1"
)

// OOM score adjustments by QoS class, as upstream's.
const (
	guaranteedOOMScoreAdj = -997
	besteffortOOMScoreAdj = 1000
)

// qosClass is the pod's QoS class (normally set by the API server on
// create; computed here for pods that lack it): Guaranteed when every
// container limits cpu and memory and requests equal limits, BestEffort
// when nothing requests or limits either, Burstable otherwise.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	any, guaranteed := false, true
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			r := &list[i].Resources
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				lim, hasLim := r.Limits[name]
				req, hasReq := r.Requests[name]
				if hasLim && !lim.IsZero() || hasReq && !req.IsZero() {
					any = true
				}
				if !hasLim || lim.IsZero() || hasReq && req.Cmp(lim) != 0 {
					guaranteed = false
				}
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// oomScoreAdj is a container's oom_score_adj: Guaranteed pods are killed
// last, BestEffort first, Burstable in proportion to the memory they
// request. Without CAP_SYS_RESOURCE no process may go below 0, so the
// value is clamped there rather than failing the container's start.
func oomScoreAdj(qos corev1.PodQOSClass, c *corev1.Container, memCapacity int64, canLower bool) int64 {
	var adj int64
	switch qos {
	case corev1.PodQOSGuaranteed:
		adj = guaranteedOOMScoreAdj
	case corev1.PodQOSBestEffort:
		adj = besteffortOOMScoreAdj
	default:
		req := c.Resources.Requests.Memory().Value()
		if memCapacity <= 0 {
			adj = besteffortOOMScoreAdj - 1
			break
		}
		adj = 1000 - 1000*req/memCapacity
		if adj < 1000+guaranteedOOMScoreAdj {
			adj = 1000 + guaranteedOOMScoreAdj
		}
		if adj >= besteffortOOMScoreAdj {
			adj = besteffortOOMScoreAdj - 1
		}
	}
	if !canLower && adj < 0 {
		adj = 0
	}
	return adj
}

// cgroupParent is the pod's cgroup under the cgroupfs driver:
// <root>/pod<uid> for Guaranteed pods, <root>/<qos>/pod<uid> otherwise,
// as upstream lays them out under /kubepods.
func cgroupParent(root string, pod *corev1.Pod, qos corev1.PodQOSClass) string {
	name := "pod" + string(pod.UID)
	switch qos {
	case corev1.PodQOSGuaranteed:
		return path.Join(root, name)
	case corev1.PodQOSBestEffort:
		return path.Join(root, "besteffort", name)
	}
	return path.Join(root, "burstable", name)
}

// CPU shares and CFS quota, as upstream converts them.
const (
	minShares     = 2
	sharesPerCPU  = 1024
	milliPerCPU   = 1000
	quotaPeriod   = 100000 // 100ms in µs
	minQuotaValue = 1000
)

func milliCPUToShares(milli int64) int64 {
	if milli == 0 {
		return minShares
	}
	shares := milli * sharesPerCPU / milliPerCPU
	if shares < minShares {
		return minShares
	}
	return shares
}

func milliCPUToQuota(milli int64) int64 {
	if milli == 0 {
		return 0
	}
	quota := milli * quotaPeriod / milliPerCPU
	if quota < minQuotaValue {
		return minQuotaValue
	}
	return quota
}

// podQOS returns the pod's class, preferring what the API server set.
func podQOS(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	return qosClass(&pod.Spec)
}
