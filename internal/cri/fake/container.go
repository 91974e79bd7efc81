package fake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exit codes of a container stopped by a signal with default disposition.
const (
	exitSIGKILL = 137
	exitSIGTERM = 143
)

// container is one container; config is the caller's, cloned.
type container struct {
	id, sandboxID string
	name          string // reserved name
	config        *runtimeapi.ContainerConfig
	image         *image
	imageSpec     *runtimeapi.ImageSpec // what lists report; never changes
	resources     *runtimeapi.LinuxContainerResources
	state         runtimeapi.ContainerState
	createdAt     int64
	startedAt     int64
	finishedAt    int64
	exitCode      int32
	reason        string
	logPath       string
	view          *runtimeapi.Container // what lists report

	// onTERM is the exit code a stop with a timeout gives it: 137 if
	// it ignores SIGTERM.
	onTERM int32
	// exits says a running container exits by itself at exitAt, with
	// exitWith and oom.
	exits    bool
	exitAt   int64
	exitWith int32
	oom      bool
}

// CreateContainer creates a container in a ready sandbox from a present
// image.
func (r *Runtime) CreateContainer(_ context.Context, sandboxID string, config *runtimeapi.ContainerConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	if config.GetMetadata() == nil || config.GetMetadata().GetName() == "" {
		return "", status.Error(codes.InvalidArgument, "container config must include metadata with a name")
	}
	if err := r.lock(); err != nil {
		return "", err
	}
	defer r.mu.Unlock()
	sb, err := r.findSandbox(sandboxID)
	if err != nil {
		return "", err
	}
	if sb.state != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", status.Errorf(codes.Unknown, "failed to create containerd container: sandbox container %q is not running", sb.id)
	}
	img := r.images.find(config.GetImage().GetImage())
	if img == nil {
		return "", status.Errorf(codes.NotFound, "failed to get image %q: image %q: not found", config.GetImage().GetImage(), config.GetImage().GetImage())
	}
	m := sb.config.Metadata
	name := fmt.Sprintf("%s_%s_%s_%s_%d", config.Metadata.Name, m.Name, m.Namespace, m.Uid, config.Metadata.Attempt)
	if id, ok := r.names[name]; ok {
		return "", status.Errorf(codes.Unknown, "failed to reserve container name %q: name %q is reserved for %q", name, name, id)
	}
	c := &container{
		id: newID(), sandboxID: sb.id, name: name,
		config: proto.Clone(config).(*runtimeapi.ContainerConfig), image: img,
		imageSpec: &runtimeapi.ImageSpec{Image: img.ref, UserSpecifiedImage: config.GetImage().GetUserSpecifiedImage()},
		resources: config.GetLinux().GetResources(),
		state:     runtimeapi.ContainerState_CONTAINER_CREATED, createdAt: r.clock.Now().UnixNano(),
	}
	if sb.config.LogDirectory != "" && config.LogPath != "" {
		c.logPath = filepath.Join(sb.config.LogDirectory, config.LogPath)
	}
	r.addContainer(c)
	r.names[name] = c.id
	return c.id, nil
}

// StartContainer starts a created container: it decides what the
// container does (Options.Behaviour or its command), writes its output and
// files, and sets when it exits.
func (r *Runtime) StartContainer(_ context.Context, id string) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		return err
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_CREATED {
		return status.Errorf(codes.Unknown, "container %q is in %s state", c.id, stateName(c.state))
	}
	argv := append(append([]string{}, c.config.Command...), c.config.Args...)
	b, ok := Behaviour{}, false
	if r.behaviour != nil {
		b, ok = r.behaviour(c.image.ref, argv)
	}
	if !ok {
		b = behaviourOf(argv)
	}
	now := r.clock.Now()
	c.state, c.startedAt = runtimeapi.ContainerState_CONTAINER_RUNNING, now.UnixNano()
	c.onTERM = b.TermExitCode
	if b.IgnoresTERM {
		c.onTERM = exitSIGKILL
	}
	r.writeOutput(c, now, b)
	if !b.Forever {
		c.exits, c.exitAt, c.exitWith, c.oom = true, now.Add(b.Runs).UnixNano(), b.ExitCode, b.OOMKilled
		if b.OOMKilled {
			c.exitWith = exitSIGKILL
		}
		r.exitDue(c.exitAt)
	}
	c.updateView()
	return nil
}

// writeOutput appends b's output to the container's log (when its
// directory exists: the kubelet makes it) and writes b's files through the
// container's mounts. Failures are ignored: a process cannot report them
// either.
func (r *Runtime) writeOutput(c *container, now time.Time, b Behaviour) {
	if c.logPath != "" && len(b.Output) > 0 {
		if f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err == nil {
			for _, line := range b.Output {
				fmt.Fprintf(f, "%s stdout F %s\n", now.UTC().Format(time.RFC3339Nano), line)
			}
			_ = f.Close()
		}
	}
	for p, text := range b.Files {
		for _, m := range c.config.Mounts {
			if m.ContainerPath == p && m.HostPath != "" && !m.Readonly {
				_ = os.WriteFile(m.HostPath, []byte(text), 0o666)
			}
		}
	}
}

// StopContainer stops a running container at once: with a timeout, the
// exit code is what SIGTERM would give (see Behaviour; the fake does not
// wait out the timeout of a process that ignores it), without one 137
// (SIGKILL). Stopping a container that is not running does nothing.
func (r *Runtime) StopContainer(_ context.Context, id string, timeout int64) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		return err
	}
	r.kill(c, timeout)
	return nil
}

// kill ends c if it still runs. Caller holds r.mu.
func (r *Runtime) kill(c *container, timeout int64) {
	r.refresh(c)
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return
	}
	code := c.onTERM
	if timeout <= 0 {
		code = exitSIGKILL
	}
	c.exits = false
	r.exit(c, r.clock.Now().UnixNano(), code, false)
}

// refresh moves a running container whose time is up to exited. Caller
// holds r.mu.
func (r *Runtime) refresh(c *container) {
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING && c.exits && r.clock.Now().UnixNano() >= c.exitAt {
		r.exit(c, c.exitAt, c.exitWith, c.oom)
	}
}

func (r *Runtime) exit(c *container, at int64, code int32, oom bool) {
	c.state, c.finishedAt, c.exitCode = runtimeapi.ContainerState_CONTAINER_EXITED, at, code
	switch {
	case oom:
		c.reason = "OOMKilled"
	case code == 0:
		c.reason = "Completed"
	default:
		c.reason = "Error"
	}
	c.updateView()
}

// RemoveContainer removes a container, stopping it first if it runs.
// Removing an unknown container succeeds, as the CRI asks.
func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, err := r.findContainer(id)
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	}
	r.kill(c, 0)
	r.removeContainers(func(x *container) bool { return x == c })
	return nil
}

// findContainer resolves an id or unique id prefix. Caller holds r.mu.
func (r *Runtime) findContainer(id string) (*container, error) {
	if c, ok := r.containers[id]; ok {
		return c, nil
	}
	var found *container
	if id != "" {
		for cid, c := range r.containers {
			if hasPrefix(cid, id) {
				if found != nil {
					return nil, status.Errorf(codes.InvalidArgument, "container id %q is ambiguous", id)
				}
				found = c
			}
		}
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "an error occurred when try to find container %q: not found", id)
	}
	return found, nil
}

func stateName(s runtimeapi.ContainerState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CONTAINER_"))
}
