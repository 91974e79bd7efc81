package fake

import (
	"math"
	"slices"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

// The lists keep sandboxes and containers in creation order, each with the
// entry a list reports for it (its view), built when it is created and
// replaced, never changed, when something a list reports changes. A list
// is then one slice of shared pointers: every hollow node's kubelet lists
// both every second and again for each pod it syncs, and building, sorting
// and collecting fresh entries each time was a third of the hollow-nodes
// process's CPU at 5,000 nodes. Callers must not modify what lists return
// (they share the runtime's maps too; no caller writes to them).

// podObjects are one pod's sandboxes and containers, in creation order,
// indexed by the pod UID label the kubelet puts on them: a kubelet lists
// a pod's sandboxes and containers by that label each time it syncs the
// pod, and matching every object's labels was an eighth of the
// hollow-nodes process's CPU at 5,000 nodes of 30 pods.
type podObjects struct {
	sandboxes  []*sandbox
	containers []*container
}

// pod is the index entry for uid, made if need be. Caller holds r.mu.
func (r *Runtime) pod(uid string) *podObjects {
	p := r.byPod[uid]
	if p == nil {
		p = &podObjects{}
		r.byPod[uid] = p
	}
	return p
}

// unindex drops uid's entry once it holds nothing. Caller holds r.mu.
func (r *Runtime) unindex(uid string) {
	if p := r.byPod[uid]; p != nil && len(p.sandboxes) == 0 && len(p.containers) == 0 {
		delete(r.byPod, uid)
	}
}

// podOf is the pod UID a label selector names, if it names one.
func podOf(sel map[string]string) (string, bool) {
	uid, ok := sel[kubetypes.PodUIDLabel]
	return uid, ok
}

// created is a sandbox or a container: something with a creation time.
type created interface{ created() int64 }

func (sb *sandbox) created() int64  { return sb.createdAt }
func (c *container) created() int64 { return c.createdAt }

// byCreation inserts x into s, which is in creation order; ties keep the
// order of insertion.
func byCreation[T created](s []T, x T) []T {
	i, _ := slices.BinarySearchFunc(s, x.created(), func(e T, t int64) int {
		if e.created() <= t {
			return -1
		}
		return 1
	})
	return slices.Insert(s, i, x)
}

// addSandbox records a new sandbox. Caller holds r.mu.
func (r *Runtime) addSandbox(sb *sandbox) {
	sb.updateView()
	r.sandboxes[sb.id] = sb
	r.sandboxOrder = byCreation(r.sandboxOrder, sb)
	if uid, ok := podOf(sb.config.Labels); ok {
		p := r.pod(uid)
		p.sandboxes = byCreation(p.sandboxes, sb)
	}
}

// removeSandbox forgets a sandbox. Caller holds r.mu.
func (r *Runtime) removeSandbox(sb *sandbox) {
	delete(r.sandboxes, sb.id)
	same := func(x *sandbox) bool { return x == sb }
	r.sandboxOrder = slices.DeleteFunc(r.sandboxOrder, same)
	if uid, ok := podOf(sb.config.Labels); ok {
		p := r.pod(uid)
		p.sandboxes = slices.DeleteFunc(p.sandboxes, same)
		r.unindex(uid)
	}
}

// addContainer records a new container. Caller holds r.mu.
func (r *Runtime) addContainer(c *container) {
	c.updateView()
	r.containers[c.id] = c
	r.containerOrder = byCreation(r.containerOrder, c)
	if uid, ok := podOf(c.config.Labels); ok {
		p := r.pod(uid)
		p.containers = byCreation(p.containers, c)
	}
}

// removeContainers forgets the containers drop selects. Caller holds r.mu.
func (r *Runtime) removeContainers(drop func(*container) bool) {
	r.containerOrder = slices.DeleteFunc(r.containerOrder, func(c *container) bool {
		if !drop(c) {
			return false
		}
		delete(r.names, c.name)
		delete(r.containers, c.id)
		if uid, ok := podOf(c.config.Labels); ok {
			p := r.pod(uid)
			p.containers = slices.DeleteFunc(p.containers, func(x *container) bool { return x == c })
			r.unindex(uid)
		}
		return true
	})
}

// candidates are the objects a filter's label selector may select: those
// of the pod it names (of picks which), or all. Caller holds r.mu.
func candidates[T any](r *Runtime, sel map[string]string, all []T, of func(*podObjects) []T) []T {
	uid, ok := podOf(sel)
	if !ok {
		return all
	}
	if p := r.byPod[uid]; p != nil {
		return of(p)
	}
	return nil
}

// updateView rebuilds what ListPodSandbox reports for sb.
func (sb *sandbox) updateView() {
	sb.view = &runtimeapi.PodSandbox{
		Id: sb.id, State: sb.state, CreatedAt: sb.createdAt, RuntimeHandler: sb.handler,
		Metadata: sb.config.Metadata, Labels: sb.config.Labels, Annotations: sb.config.Annotations,
	}
}

// updateView rebuilds what ListContainers reports for c.
func (c *container) updateView() {
	c.view = &runtimeapi.Container{
		Id: c.id, PodSandboxId: c.sandboxID, State: c.state, CreatedAt: c.createdAt,
		ImageRef: c.image.repoDigest(), ImageId: c.image.id,
		Metadata: c.config.Metadata, Image: c.imageSpec,
		Labels: c.config.Labels, Annotations: c.config.Annotations,
	}
}

// exitDue lowers the time by which refreshAll must next look for
// containers whose time is up. Caller holds r.mu.
func (r *Runtime) exitDue(at int64) {
	r.nextExit = min(r.nextExit, at)
}

// refreshAll moves every running container whose time is up to exited,
// when one may be: containers exit when read, and a list reads them all.
// Caller holds r.mu.
func (r *Runtime) refreshAll() {
	if r.clock.Now().UnixNano() < r.nextExit {
		return
	}
	r.nextExit = math.MaxInt64
	for _, c := range r.containerOrder {
		r.refresh(c)
		if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING && c.exits {
			r.exitDue(c.exitAt)
		}
	}
}
