package fake

import (
	"math"
	"slices"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The lists keep sandboxes and containers in creation order, each with the
// entry a list reports for it (its view), built when it is created and
// replaced, never changed, when something a list reports changes. A list
// is then one slice of shared pointers: every hollow node's kubelet lists
// both every second and again for each pod it syncs, and building, sorting
// and collecting fresh entries each time was a third of the hollow-nodes
// process's CPU at 5,000 nodes. Callers must not modify what lists return
// (they share the runtime's maps too; no caller writes to them).

// byCreation orders by creation time; ties keep the order of insertion.
func byCreation[T any](s []T, createdAt func(T) int64, x T) []T {
	at := createdAt(x)
	i, _ := slices.BinarySearchFunc(s, at, func(e T, t int64) int {
		if createdAt(e) <= t {
			return -1
		}
		return 1
	})
	return slices.Insert(s, i, x)
}

func sandboxCreatedAt(sb *sandbox) int64    { return sb.createdAt }
func containerCreatedAt(c *container) int64 { return c.createdAt }

// addSandbox records a new sandbox. Caller holds r.mu.
func (r *Runtime) addSandbox(sb *sandbox) {
	sb.updateView()
	r.sandboxes[sb.id] = sb
	r.sandboxOrder = byCreation(r.sandboxOrder, sandboxCreatedAt, sb)
}

// removeSandbox forgets a sandbox. Caller holds r.mu.
func (r *Runtime) removeSandbox(sb *sandbox) {
	delete(r.sandboxes, sb.id)
	r.sandboxOrder = slices.DeleteFunc(r.sandboxOrder, func(x *sandbox) bool { return x == sb })
}

// addContainer records a new container. Caller holds r.mu.
func (r *Runtime) addContainer(c *container) {
	c.updateView()
	r.containers[c.id] = c
	r.containerOrder = byCreation(r.containerOrder, containerCreatedAt, c)
}

// removeContainers forgets the containers drop selects. Caller holds r.mu.
func (r *Runtime) removeContainers(drop func(*container) bool) {
	r.containerOrder = slices.DeleteFunc(r.containerOrder, func(c *container) bool {
		if !drop(c) {
			return false
		}
		delete(r.names, c.name)
		delete(r.containers, c.id)
		return true
	})
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
