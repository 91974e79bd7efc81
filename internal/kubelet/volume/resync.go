package volume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// Start runs Resync every ResyncPeriod until ctx is done. It does not tear
// anything down on the way out: volumes outlive the kubelet process.
func (m *Manager) Start(ctx context.Context) error {
	t := m.clock.NewTicker(m.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			m.Resync(ctx)
		}
	}
}

// Resync refreshes every set-up pod's volumes from the pod object last
// given to SetUp or Refresh (the kubelet passes newer pod objects in as it
// sees them) and the current configMaps and secrets, renews service
// account tokens nearing expiry, and measures emptyDir usage against
// sizeLimit. Errors are logged: a volume that cannot be refreshed keeps
// its previous contents.
func (m *Manager) Resync(ctx context.Context) {
	m.mu.Lock()
	states := make([]*podVolumes, 0, len(m.pods))
	for _, st := range m.pods {
		states = append(states, st)
	}
	m.mu.Unlock()
	for _, st := range states {
		if ctx.Err() != nil {
			return
		}
		m.resyncPod(ctx, st)
	}
}

func (m *Manager) resyncPod(ctx context.Context, st *podVolumes) {
	st.mu.Lock()
	if st.gone || st.pod == nil {
		st.mu.Unlock()
		return
	}
	pod := st.pod
	if _, err := m.setUpPod(ctx, st, pod); err != nil {
		m.log.Warn("refreshing pod volumes", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	over := m.checkEmptyDirUsage(pod, st)
	st.mu.Unlock()
	// Outside the pod's lock: the callback may well tear the pod down.
	if m.onExceed != nil {
		for _, o := range over {
			m.onExceed(pod.UID, o.volume, o.message)
		}
	}
}

type overLimit struct{ volume, message string }

// checkEmptyDirUsage measures each disk-backed emptyDir with a sizeLimit.
// (A memory-backed one cannot outgrow its tmpfs, which is sized to it.)
func (m *Manager) checkEmptyDirUsage(pod *corev1.Pod, st *podVolumes) []overLimit {
	var over []overLimit
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		ed := v.EmptyDir
		if ed == nil || ed.SizeLimit == nil || ed.SizeLimit.IsZero() || ed.Medium == corev1.StorageMediumMemory {
			continue
		}
		used, err := diskUsage(m.volumeDir(pod.UID, pluginEmptyDir, v.Name))
		if err != nil {
			m.log.Warn("measuring emptyDir", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name, "err", err)
			continue
		}
		st.usage[v.Name] = used
		if used <= ed.SizeLimit.Value() {
			delete(st.exceeded, v.Name)
			continue
		}
		msg := fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", v.Name, ed.SizeLimit.String())
		st.exceeded[v.Name] = msg
		m.log.Info("emptyDir over its sizeLimit", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name,
			"used", resource.NewQuantity(used, resource.BinarySI).String(), "limit", ed.SizeLimit.String())
		over = append(over, overLimit{v.Name, msg})
	}
	return over
}

// Exceeded returns the eviction message of each emptyDir of the pod that
// was over its sizeLimit at the last Resync (volume name → message).
func (m *Manager) Exceeded(podUID types.UID) map[string]string {
	st := m.state(podUID, false)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.exceeded) == 0 {
		return nil
	}
	out := make(map[string]string, len(st.exceeded))
	for k, v := range st.exceeded {
		out[k] = v
	}
	return out
}

// EmptyDirUsage returns the bytes each sizeLimited disk emptyDir of the
// pod used at the last Resync.
func (m *Manager) EmptyDirUsage(podUID types.UID) map[string]int64 {
	st := m.state(podUID, false)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]int64, len(st.usage))
	for k, v := range st.usage {
		out[k] = v
	}
	return out
}
