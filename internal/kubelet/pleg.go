package kubelet

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// runPLEG is the pod lifecycle event generator: every RelistPeriod it
// lists all sandboxes and containers and syncs the pods whose runtime
// state changed (a container exited, a sandbox died) or that the API
// server does not know (orphans, to clean up). The periodic resync that
// retries whatever the events missed is each pod's own (withResync).
// One goroutine per node.
func (k *Kubelet) runPLEG(ctx context.Context) {
	prev := map[string]string{} // runtime object id → pod uid + state
	k.poll(ctx, k.cfg.RelistPeriod, func(ctx context.Context) {
		next, err := k.relist(ctx)
		if err != nil {
			if ctx.Err() == nil {
				k.log.Info("relist failed", "err", err)
			}
			return
		}
		changed := map[types.UID]bool{}
		for id, v := range next {
			if prev[id] != v {
				changed[types.UID(uidOf(v))] = true
			}
		}
		for id, v := range prev {
			if _, ok := next[id]; !ok {
				changed[types.UID(uidOf(v))] = true
			}
		}
		prev = next
		for uid := range changed {
			if uid != "" {
				k.workers.Enqueue(uid)
			}
		}
	})
}

// relist maps each sandbox and container id to "<pod uid>|<state>".
func (k *Kubelet) relist(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sbs, err := k.runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		return nil, err
	}
	ctrs, err := k.runtime.ListContainers(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(sbs)+len(ctrs))
	for _, sb := range sbs {
		if uid := sb.Labels[labelPodUID]; uid != "" {
			out[sb.Id] = uid + "|" + sb.State.String()
		}
	}
	for _, c := range ctrs {
		if uid := c.Labels[labelPodUID]; uid != "" {
			out[c.Id] = uid + "|" + c.State.String()
		}
	}
	return out, nil
}

func uidOf(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == '|' {
			return v[:i]
		}
	}
	return v
}
