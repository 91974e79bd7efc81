package kubelet

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
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

// listed is a runtime object's id and state, in the order a relist listed
// it.
type listed struct {
	id    string
	state int32
}

// pleg holds the last relist and the one being made, by runtime object
// id. The two maps are reused, so a relist of an unchanged node
// allocates little: every hollow node relists every second. order is the
// last relist as listed: a relist that lists the same ids in the same
// states, as most do, is unchanged (same) without a map lookup; at 5,000
// hollow nodes the lookups in each object's labels were a fifth of the
// process's CPU.
type pleg struct {
	prev, next map[string]plegRecord
	order      []listed
	same       bool
}

func newPLEG() *pleg {
	return &pleg{prev: map[string]plegRecord{}, next: map[string]plegRecord{}}
}

// changed yields the UIDs of pods with an object that is new, gone or in
// another state since the last relist (a UID may come more than once).
func (p *pleg) changed() func(yield func(types.UID) bool) {
	return func(yield func(types.UID) bool) {
		if p.same {
			return
		}
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
	if p.same {
		return
	}
	p.prev, p.next = p.next, p.prev
	clear(p.next)
}

// unchanged says the lists are the last relist's: the same ids in the
// same states and order.
func (p *pleg) unchanged(sbs []*runtimeapi.PodSandbox, ctrs []*runtimeapi.Container) bool {
	if len(p.order) != len(sbs)+len(ctrs) {
		return false
	}
	for i, sb := range sbs {
		if o := p.order[i]; o.id != sb.Id || o.state != int32(sb.State) {
			return false
		}
	}
	for i, c := range ctrs {
		if o := p.order[len(sbs)+i]; o.id != c.Id || o.state != int32(c.State) {
			return false
		}
	}
	return true
}

// record puts one listed object in p.next and p.order. An id seen before
// keeps its pod UID (labels never change), read from the last relist
// rather than from the object's labels.
func (p *pleg) record(id string, state int32, labels map[string]string) {
	p.order = append(p.order, listed{id: id, state: state})
	uid := ""
	if old, ok := p.prev[id]; ok {
		uid = old.uid
	} else {
		uid = labels[kubetypes.PodUIDLabel]
	}
	if uid != "" {
		p.next[id] = plegRecord{uid: uid, state: state}
	}
}

// relist records each sandbox and container of a pod (the runtime
// objects labelled with a pod UID) in p.next, or finds them the same as
// last time (p.same). The runtime client bounds each call, as upstream's
// relist relies on its runtime service's timeout (a context with a
// deadline of its own per relist was a twentieth of the hollow nodes'
// CPU).
func (k *Kubelet) relist(ctx context.Context, p *pleg) error {
	sbs, err := k.runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	ctrs, err := k.runtime.ListContainers(ctx, nil)
	if err != nil {
		return err
	}
	if p.same = p.unchanged(sbs, ctrs); p.same {
		return nil
	}
	clear(p.next)
	p.order = p.order[:0]
	for _, sb := range sbs {
		p.record(sb.Id, int32(sb.State), sb.Labels)
	}
	for _, c := range ctrs {
		p.record(c.Id, int32(c.State), c.Labels)
	}
	return nil
}
