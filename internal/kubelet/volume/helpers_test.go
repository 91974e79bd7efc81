package volume_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

// env is a manager over a temp kubelet root, with an API server behind it.
type env struct {
	m      *volume.Manager
	client kubernetes.Interface
	ns     string
	root   string
	ctx    context.Context
}

// requireRoot skips tests that mount tmpfs when not run as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount tmpfs")
	}
}

// tempRoot is a kubelet root that must have nothing mounted under it when
// the test ends; anything left is unmounted so the temp dir can go.
func tempRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		left, err := volume.MountPointsUnder(root)
		if err != nil {
			t.Errorf("reading mounts: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("mounts left under the kubelet root: %v", left)
			for _, mp := range left {
				_ = syscall.Unmount(mp, syscall.MNT_DETACH)
			}
		}
	})
	return root
}

func newEnv(t *testing.T, opts volume.Options) *env {
	t.Helper()
	client, ns := controllertest.Start(t)
	root := tempRoot(t)
	opts.RootDir, opts.Client = root, client
	return &env{m: volume.New(opts), client: client, ns: ns, root: root, ctx: controllertest.Context(t)}
}

func (e *env) pod(name string, volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
			Volumes:    volumes,
		},
	}
}

// setUp sets a pod up, fails the test on error, and tears it down (and
// checks the teardown) when the test ends.
func (e *env) setUp(t *testing.T, pod *corev1.Pod) map[string]string {
	t.Helper()
	paths, err := e.m.SetUp(e.ctx, pod)
	e.tearDownAtEnd(t, pod.UID)
	if err != nil {
		t.Fatalf("SetUp: %v", err)
	}
	return paths
}

func (e *env) tearDownAtEnd(t *testing.T, uid types.UID) {
	t.Cleanup(func() {
		if err := e.m.TearDown(context.Background(), uid); err != nil {
			t.Errorf("TearDown: %v", err)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s should not exist (err %v)", path, err)
	}
}

func readlink(t *testing.T, path string) string {
	t.Helper()
	s, err := os.Readlink(path)
	if err != nil {
		t.Fatalf("readlink: %v", err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// fsType is the statfs magic of the filesystem at path.
func isTmpfs(t *testing.T, path string) bool {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatalf("statfs %s: %v", path, err)
	}
	const tmpfsMagic = 0x01021994
	return st.Type == tmpfsMagic
}
