package kubelet

import (
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// probeHost is the kubelet's side of the ProbeManager contract.
type probeHost struct{ k *Kubelet }

var _ ProbeHost = probeHost{}

func (h probeHost) ProbeResultChanged(uid types.UID) { h.k.workers.Enqueue(uid) }

// ContainerUnhealthy remembers the failure by CRI container id; the
// pod's next sync kills that container if it is still the one running.
func (h probeHost) ContainerUnhealthy(f ProbeFailure) {
	st := h.k.state(f.PodUID, false)
	if st == nil {
		return
	}
	id := f.ContainerID
	if i := strings.Index(id, "://"); i >= 0 {
		id = id[i+3:]
	}
	h.k.mu.Lock()
	st.unhealthy[id] = f
	h.k.mu.Unlock()
	h.k.workers.Enqueue(f.PodUID)
}

func (h probeHost) Recorder() record.EventRecorder { return h.k.recorder }
