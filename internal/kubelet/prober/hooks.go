package prober

import (
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// Failure describes a container whose liveness or startup probe failed
// failureThreshold times in a row; the kubelet kills and restarts it.
type Failure struct {
	PodUID      types.UID
	Container   string
	ContainerID string // as reported to the manager
	// Probe is "Liveness" or "Startup".
	Probe string
	// Output is the last probe's output (for logs).
	Output string
	// Message is for the kubelet's Killing event: "Container app failed
	// liveness probe, will be restarted".
	Message string
	// GracePeriodSeconds is the probe's terminationGracePeriodSeconds,
	// which overrides the pod's for this kill; nil if unset.
	GracePeriodSeconds *int64
}

// Hooks are where a Manager reports. Options sets them at New; SetHooks
// replaces them for a kubelet that hands its side over only when it starts
// the prober. Callbacks run on worker goroutines with no lock held and
// should not block.
type Hooks struct {
	OnFailure func(Failure)
	OnChange  func(podUID types.UID)
	Recorder  record.EventRecorder
}

// SetHooks replaces the hooks whose fields are non-nil. Reports made
// before a hook is set are dropped.
func (m *Manager) SetHooks(h Hooks) {
	m.hooksMu.Lock()
	defer m.hooksMu.Unlock()
	if h.OnFailure != nil {
		m.hooks.OnFailure = h.OnFailure
	}
	if h.OnChange != nil {
		m.hooks.OnChange = h.OnChange
	}
	if h.Recorder != nil {
		m.hooks.Recorder = h.Recorder
	}
}

func (m *Manager) currentHooks() Hooks {
	m.hooksMu.RLock()
	defer m.hooksMu.RUnlock()
	return m.hooks
}
