package fake

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sandbox is one pod sandbox. Its config is the caller's, cloned.
type sandbox struct {
	id        string
	config    *runtimeapi.PodSandboxConfig
	handler   string
	state     runtimeapi.PodSandboxState
	createdAt int64
	ip        string
	name      string // reserved name
	view      *runtimeapi.PodSandbox
}

// sandboxName is the name containerd reserves for a sandbox: two sandboxes
// with the same metadata cannot exist at once.
func sandboxName(m *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%d", m.GetName(), m.GetNamespace(), m.GetUid(), m.GetAttempt())
}

// RunPodSandbox creates a ready sandbox with an IP from the pod CIDR (none
// for host-network sandboxes).
func (r *Runtime) RunPodSandbox(_ context.Context, config *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	if config.GetMetadata() == nil || config.GetMetadata().GetName() == "" || config.GetMetadata().GetUid() == "" {
		return "", status.Error(codes.InvalidArgument, "sandbox config must include metadata with name and uid")
	}
	if err := r.lock(); err != nil {
		return "", err
	}
	defer r.mu.Unlock()
	name := sandboxName(config.Metadata)
	if id, ok := r.names[name]; ok {
		return "", status.Errorf(codes.Unknown, "failed to reserve sandbox name %q: name %q is reserved for %q", name, name, id)
	}
	sb := &sandbox{
		id: newID(), config: proto.Clone(config).(*runtimeapi.PodSandboxConfig), handler: handler,
		state: runtimeapi.PodSandboxState_SANDBOX_READY, createdAt: r.clock.Now().UnixNano(), name: name,
	}
	if config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		ip, err := r.ips.allocate()
		if err != nil {
			return "", status.Errorf(codes.Unknown, "failed to setup network for sandbox %q: %v", sb.id, err)
		}
		sb.ip = ip
	}
	r.addSandbox(sb)
	r.names[name] = sb.id
	return sb.id, nil
}

// StopPodSandbox kills the sandbox's containers and releases its IP. It is
// idempotent for a stopped sandbox; an unknown id is NotFound.
func (r *Runtime) StopPodSandbox(_ context.Context, id string) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	sb, err := r.findSandbox(id)
	if err != nil {
		return err
	}
	for _, c := range r.containers {
		if c.sandboxID == sb.id {
			r.kill(c, 0)
		}
	}
	if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY && sb.ip != "" {
		r.ips.release(sb.ip)
	}
	if sb.state != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		sb.updateView()
	}
	return nil
}

// RemovePodSandbox stops the sandbox and removes it with its containers.
// Removing an unknown sandbox succeeds, as the CRI asks.
func (r *Runtime) RemovePodSandbox(ctx context.Context, id string) error {
	if err := r.StopPodSandbox(ctx, id); err != nil {
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	}
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	sb, err := r.findSandbox(id)
	if err != nil {
		return nil // removed meanwhile
	}
	r.removeContainers(func(c *container) bool { return c.sandboxID == sb.id })
	delete(r.names, sb.name)
	r.removeSandbox(sb)
	return nil
}

// PodSandboxStatus reports a sandbox's state, IP and namespaces.
func (r *Runtime) PodSandboxStatus(_ context.Context, id string, _ bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	sb, err := r.findSandbox(id)
	if err != nil {
		return nil, err
	}
	opts := sb.config.GetLinux().GetSecurityContext().GetNamespaceOptions()
	if opts == nil {
		opts = &runtimeapi.NamespaceOption{}
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:             sb.id,
		Metadata:       proto.Clone(sb.config.Metadata).(*runtimeapi.PodSandboxMetadata),
		State:          sb.state,
		CreatedAt:      sb.createdAt,
		Network:        &runtimeapi.PodSandboxNetworkStatus{Ip: sb.ip},
		Linux:          &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: proto.Clone(opts).(*runtimeapi.NamespaceOption)}},
		Labels:         copyMap(sb.config.Labels),
		Annotations:    copyMap(sb.config.Annotations),
		RuntimeHandler: sb.handler,
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: st, Timestamp: r.clock.Now().UnixNano()}, nil
}

// ListPodSandbox lists sandboxes matching filter, oldest first. An id in
// the filter may be a unique prefix, as containerd allows.
func (r *Runtime) ListPodSandbox(_ context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	if filter == nil {
		out = make([]*runtimeapi.PodSandbox, 0, len(r.sandboxOrder))
	}
	for _, sb := range candidates(r, filter.GetLabelSelector(), r.sandboxOrder, func(p *podObjects) []*sandbox { return p.sandboxes }) {
		if filter != nil {
			if filter.Id != "" && !hasPrefix(sb.id, filter.Id) {
				continue
			}
			if filter.State != nil && filter.State.State != sb.state {
				continue
			}
			if !matchLabels(sb.config.Labels, filter.LabelSelector) {
				continue
			}
		}
		out = append(out, sb.view) // shared: see listing.go
	}
	return out, nil
}

// findSandbox resolves an id or unique id prefix. Caller holds r.mu.
func (r *Runtime) findSandbox(id string) (*sandbox, error) {
	if sb, ok := r.sandboxes[id]; ok {
		return sb, nil
	}
	var found *sandbox
	if id != "" {
		for sid, sb := range r.sandboxes {
			if hasPrefix(sid, id) {
				if found != nil {
					return nil, status.Errorf(codes.InvalidArgument, "sandbox id %q is ambiguous", id)
				}
				found = sb
			}
		}
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "an error occurred when try to find sandbox %q: not found", id)
	}
	return found, nil
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// ipPool hands out addresses of a CIDR, skipping the network address and
// the first host (the bridge's gateway).
type ipPool struct {
	base  net.IP // 4 or 16 bytes
	size  uint64 // usable offsets are 2 .. size-2
	next  uint64
	inUse map[uint64]bool
}

func newIPPool(cidr *net.IPNet) *ipPool {
	ones, bits := cidr.Mask.Size()
	size := uint64(1) << 32
	if bits-ones < 32 {
		size = uint64(1) << uint(bits-ones)
	}
	base := cidr.IP.To4()
	if base == nil {
		base = cidr.IP.To16()
	}
	return &ipPool{base: base, size: size, next: 2, inUse: map[uint64]bool{}}
}

func (p *ipPool) allocate() (string, error) {
	for tries := uint64(0); tries < p.size; tries++ {
		off := p.next
		p.next++
		if p.next >= p.size-1 {
			p.next = 2
		}
		if off < 2 || off >= p.size-1 || p.inUse[off] {
			continue
		}
		p.inUse[off] = true
		return p.ipAt(off).String(), nil
	}
	return "", fmt.Errorf("no IP addresses available in range %s/%d", p.base, p.prefixLen())
}

func (p *ipPool) release(ip string) {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return
	}
	if v4 := parsed.To4(); v4 != nil && len(p.base) == 4 {
		parsed = v4
	}
	var off uint64
	for i := range p.base {
		off = off<<8 | uint64(parsed[i]-p.base[i])
	}
	delete(p.inUse, off)
}

func (p *ipPool) ipAt(off uint64) net.IP {
	ip := make(net.IP, len(p.base))
	copy(ip, p.base)
	for i := len(ip) - 1; i >= 0 && off > 0; i-- {
		sum := uint64(ip[i]) + off&0xff
		ip[i] = byte(sum)
		off = off>>8 + sum>>8
	}
	return ip
}

func (p *ipPool) prefixLen() int {
	n := 0
	for s := p.size; s > 1; s >>= 1 {
		n++
	}
	return len(p.base)*8 - n
}

// SandboxConfig returns a copy of the config a sandbox was created with,
// for tests.
func (r *Runtime) SandboxConfig(id string) (*runtimeapi.PodSandboxConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, err := r.findSandbox(id)
	if err != nil {
		return nil, false
	}
	return proto.Clone(sb.config).(*runtimeapi.PodSandboxConfig), true
}
