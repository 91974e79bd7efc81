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
	p := newPLEG()
	k.poll(ctx, k.cfg.RelistPeriod, func(ctx context.Context) {
		if err := k.relist(ctx, p); err != nil {
			if ctx.Err() == nil {
				k.log.Info("relist failed", "err", err)
			}
			return
		}
		for uid := range p.changed() {
			k.workers.Enqueue(uid)
		}
		p.swap()
	})
}

// plegRecord is what a relist saw of one sandbox or container: its pod's
// UID and its state (a sandbox's or a container's state enum).
type plegRecord struct {
	uid   string
	state int32
}

// pleg holds the last relist and the one being made, by runtime object
// id. The two maps are reused, so a relist of an unchanged node
// allocates little: every hollow node relists every second.
type pleg struct {
	prev, next map[string]plegRecord
}

func newPLEG() *pleg {
	return &pleg{prev: map[string]plegRecord{}, next: map[string]plegRecord{}}
}

// changed yields the UIDs of pods with an object that is new, gone or in
// another state since the last relist (a UID may come more than once).
func (p *pleg) changed() func(yield func(types.UID) bool) {
	return func(yield func(types.UID) bool) {
		for id, rec := range p.next {
			if old, ok := p.prev[id]; !ok || old != rec {
				if !yield(types.UID(rec.uid)) {
					return
				}
			}
		}
		for id, rec := range p.prev {
			if _, ok := p.next[id]; !ok {
				if !yield(types.UID(rec.uid)) {
					return
				}
			}
		}
	}
}

// swap makes the relist just made the last one.
func (p *pleg) swap() {
	p.prev, p.next = p.next, p.prev
	clear(p.next)
}

// relist records each sandbox and container of a pod (the runtime
// objects labelled with a pod UID) in p.next.
func (k *Kubelet) relist(ctx context.Context, p *pleg) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sbs, err := k.runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	ctrs, err := k.runtime.ListContainers(ctx, nil)
	if err != nil {
		return err
	}
	clear(p.next)
	for _, sb := range sbs {
		if uid := sb.Labels[labelPodUID]; uid != "" {
			p.next[sb.Id] = plegRecord{uid: uid, state: int32(sb.State)}
		}
	}
	for _, c := range ctrs {
		if uid := c.Labels[labelPodUID]; uid != "" {
			p.next[c.Id] = plegRecord{uid: uid, state: int32(c.State)}
		}
	}
	return nil
}
