package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// DefaultResyncPeriod is how often Start refreshes configMap, secret,
// projected and downwardAPI volumes and measures emptyDir usage.
const DefaultResyncPeriod = 20 * time.Second

// TokenRequester mints a service account token (the TokenRequest API).
type TokenRequester func(ctx context.Context, namespace, serviceAccount string,
	req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)

// Options configure a Manager. RootDir and Client are required.
type Options struct {
	// RootDir is the kubelet root; pods live at <RootDir>/pods/<uid>.
	RootDir string
	// Client reads configMaps, secrets and the Node object.
	Client kubernetes.Interface
	// NodeName names this node's Node object, whose status.allocatable
	// sizes memory-backed volumes and fills resourceFieldRef limits a
	// container does not set. Without it (or if the read fails) the
	// machine's own memory and CPU count are used.
	NodeName string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// TokenRequester; default Client's serviceaccounts/token subresource.
	TokenRequester TokenRequester
	// OnEmptyDirExceeded is called from Resync (after each pass over the
	// pod, with no lock held) for every emptyDir whose usage is over its
	// sizeLimit, with upstream's eviction message; the kubelet evicts the
	// pod. Optional: Exceeded reports the same.
	OnEmptyDirExceeded func(podUID types.UID, volumeName, message string)
	// ResyncPeriod for Start; default DefaultResyncPeriod.
	ResyncPeriod time.Duration
	// Clock; default the real clock.
	Clock clock.WithTicker
}

// Manager sets up, refreshes and tears down pod volumes. Its methods are
// safe for concurrent use; calls for the same pod are serialized.
type Manager struct {
	root      string
	client    kubernetes.Interface
	nodeName  string
	log       *slog.Logger
	tokens    TokenRequester
	onExceed  func(types.UID, string, string)
	period    time.Duration
	clock     clock.WithTicker
	mu        sync.Mutex
	pods      map[types.UID]*podVolumes
	allocMu   sync.Mutex
	allocMemo *allocatable
}

// podVolumes is what the manager remembers of a set-up pod.
type podVolumes struct {
	mu       sync.Mutex // held through one SetUp, Refresh or TearDown
	pod      *corev1.Pod
	gone     bool                   // torn down: later refreshes are no-ops
	tokens   map[string]cachedToken // volume/path → token
	warned   map[string]bool        // volume/path whose missing TokenRequest was logged
	exceeded map[string]string      // emptyDir volume → eviction message
	usage    map[string]int64       // emptyDir volume → bytes at the last Resync
}

// New returns a Manager. It touches no disk until SetUp.
func New(opts Options) *Manager {
	m := &Manager{
		root:     opts.RootDir,
		client:   opts.Client,
		nodeName: opts.NodeName,
		log:      opts.Logger,
		tokens:   opts.TokenRequester,
		onExceed: opts.OnEmptyDirExceeded,
		period:   opts.ResyncPeriod,
		clock:    opts.Clock,
		pods:     map[types.UID]*podVolumes{},
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("component", "volume-manager")
	if m.period <= 0 {
		m.period = DefaultResyncPeriod
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.tokens == nil && m.client != nil {
		client := m.client
		m.tokens = func(ctx context.Context, ns, sa string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
			return client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, req, metav1.CreateOptions{})
		}
	}
	return m
}

// SetUpError is one volume that could not be set up. Its message is the
// one upstream's kubelet puts in a FailedMount event.
type SetUpError struct {
	Volume string
	Err    error
}

func (e *SetUpError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

func (e *SetUpError) Unwrap() error { return e.Err }

// SetUp makes every volume of pod ready on disk and returns volume name →
// host path to bind-mount (a directory, or a file for hostPath file
// types). It is idempotent: calling it again with a newer pod object
// refreshes the volumes' contents. It tries every volume; the error joins
// one *SetUpError per failed volume (errors.Join; unwrap with
// interface{ Unwrap() []error }), and the map holds the rest. The manager
// keeps pod (without copying or changing it) for later refreshes.
func (m *Manager) SetUp(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	if pod == nil {
		return nil, errors.New("volume set-up: nil pod")
	}
	if err := checkName("pod UID", string(pod.UID)); err != nil {
		return nil, err
	}
	if m.root == "" || !filepath.IsAbs(m.root) {
		return nil, fmt.Errorf("volume set-up: root dir %q must be an absolute path", m.root)
	}
	st := m.state(pod.UID, true)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gone { // a TearDown ran between state() and Lock: track the pod again
		st.gone = false
		m.mu.Lock()
		if m.pods[pod.UID] == nil {
			m.pods[pod.UID] = st
		}
		m.mu.Unlock()
	}
	st.pod = pod
	return m.setUpPod(ctx, st, pod)
}

// Refresh rewrites the configMap, secret, projected and downwardAPI
// volumes of a pod that is set up, from the given (newer) pod object and
// the current API objects; for other pods it does nothing.
func (m *Manager) Refresh(ctx context.Context, pod *corev1.Pod) error {
	if pod == nil {
		return nil
	}
	st := m.state(pod.UID, false)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gone {
		return nil
	}
	st.pod = pod
	_, err := m.setUpPod(ctx, st, pod)
	return err
}

func (m *Manager) setUpPod(ctx context.Context, st *podVolumes, pod *corev1.Pod) (map[string]string, error) {
	paths := map[string]string{}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		path, err := m.setUpVolume(ctx, st, pod, v)
		if err != nil {
			errs = append(errs, &SetUpError{Volume: v.Name, Err: err})
			continue
		}
		paths[v.Name] = path
	}
	return paths, errors.Join(errs...)
}

func (m *Manager) setUpVolume(ctx context.Context, st *podVolumes, pod *corev1.Pod, v *corev1.Volume) (string, error) {
	if err := checkName("volume name", v.Name); err != nil {
		return "", err
	}
	switch {
	case v.EmptyDir != nil:
		return m.setUpEmptyDir(ctx, pod, v)
	case v.HostPath != nil:
		return setUpHostPath(v.HostPath)
	case v.ConfigMap != nil:
		return m.setUpWritten(ctx, pod, v, pluginConfigMap, false, func() (map[string]fileProjection, error) {
			return m.configMapPayload(ctx, pod.Namespace, v.ConfigMap)
		})
	case v.Secret != nil:
		return m.setUpWritten(ctx, pod, v, pluginSecret, true, func() (map[string]fileProjection, error) {
			return m.secretPayload(ctx, pod.Namespace, v.Secret)
		})
	case v.DownwardAPI != nil:
		return m.setUpWritten(ctx, pod, v, pluginDownwardAPI, false, func() (map[string]fileProjection, error) {
			return m.downwardAPIPayload(ctx, pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		})
	case v.Projected != nil:
		return m.setUpWritten(ctx, pod, v, pluginProjected, true, func() (map[string]fileProjection, error) {
			return m.projectedPayload(ctx, st, pod, v)
		})
	}
	return "", fmt.Errorf("unsupported volume type (only emptyDir, hostPath, configMap, secret, projected and downwardAPI are supported)")
}

// setUpWritten prepares an atomic-writer volume: its directory (on a
// tmpfs for secret material, as upstream keeps secrets off disk) and its
// files. If the payload cannot be built the previous contents stay.
func (m *Manager) setUpWritten(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, plugin string,
	inMemory bool, payload func() (map[string]fileProjection, error)) (string, error) {
	dir := m.volumeDir(pod.UID, plugin, v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if inMemory {
		if err := ensureTmpfs(dir, func() int64 { return m.memoryVolumeSize(ctx, pod, nil) }); err != nil {
			return "", err
		}
	}
	files, err := payload()
	if err != nil {
		return "", err
	}
	changed, err := writeAtomic(dir, files, m.clock.Now())
	if err != nil {
		return "", fmt.Errorf("writing volume files: %w", err)
	}
	if changed {
		m.log.Debug("volume updated", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name)
	}
	return dir, nil
}

// state returns the pod's record, creating it if create is set.
func (m *Manager) state(uid types.UID, create bool) *podVolumes {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.pods[uid]
	if st == nil && create {
		st = &podVolumes{tokens: map[string]cachedToken{}, warned: map[string]bool{},
			exceeded: map[string]string{}, usage: map[string]int64{}}
		m.pods[uid] = st
	}
	return st
}

// TearDown unmounts every mount under the pod's volumes directory (the
// tmpfs mounts SetUp made), then removes that directory, and the pod
// directory if nothing else is left in it. It works from what is on disk,
// so it also cleans up after a kubelet restart. It never removes through a
// mount point: if anything stays mounted it fails and removes nothing.
// hostPath volumes live outside the pod directory and are left alone.
func (m *Manager) TearDown(ctx context.Context, podUID types.UID) error {
	if err := checkName("pod UID", string(podUID)); err != nil {
		return err
	}
	if st := m.state(podUID, false); st != nil {
		st.mu.Lock()
		st.gone = true
		m.mu.Lock()
		delete(m.pods, podUID)
		m.mu.Unlock()
		defer st.mu.Unlock()
	}
	dir := m.podVolumesDir(podUID)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(m.podDir(podUID))
		return nil
	}
	if err := unmountAll(dir); err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	if left, err := MountPointsUnder(dir); err != nil {
		return err
	} else if len(left) > 0 {
		return fmt.Errorf("tear down volumes of pod %s: still mounted: %v", podUID, left)
	}
	// RemoveAll unlinks symlinks rather than following them, so links a
	// container planted in an emptyDir cannot point it elsewhere.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	_ = os.Remove(m.podDir(podUID)) // only if empty: other pod files are the kubelet's
	return nil
}

// ListPodUIDs lists the pods that have a volumes directory on disk, so the
// kubelet can tear down those of pods it no longer knows (after a restart).
func (m *Manager) ListPodUIDs() ([]types.UID, error) {
	entries, err := os.ReadDir(filepath.Join(m.root, "pods"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []types.UID
	for _, e := range entries {
		if _, err := os.Lstat(m.podVolumesDir(types.UID(e.Name()))); err == nil && e.IsDir() {
			out = append(out, types.UID(e.Name()))
		}
	}
	return out, nil
}

// ForcedReadOnly reports whether a volume must be mounted read-only into
// containers whatever its volumeMount says, as upstream does for the
// volumes whose files the kubelet owns and rewrites.
func ForcedReadOnly(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.Projected != nil || v.DownwardAPI != nil
}
