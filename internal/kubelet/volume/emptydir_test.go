package volume_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

func TestEmptyDirMemoryIsSizedTmpfs(t *testing.T) {
	requireRoot(t)
	e := newEnv(t, volume.Options{})
	limit := resource.MustParse("8Mi")
	pod := e.pod("mem", corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &limit}}},
		corev1.Volume{Name: "disk", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	paths, err := e.m.SetUp(e.ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["scratch"]
	if want := filepath.Join(e.root, "pods", "uid-mem", "volumes", "kubernetes.io~empty-dir", "scratch"); dir != want {
		t.Fatalf("dir %s, want %s", dir, want)
	}
	if !isTmpfs(t, dir) {
		t.Fatal("medium Memory emptyDir is not tmpfs")
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if size := int64(st.Blocks) * st.Bsize; size != limit.Value() {
		t.Fatalf("tmpfs size %d, want %d", size, limit.Value())
	}
	err = os.WriteFile(filepath.Join(dir, "big"), make([]byte, 9<<20), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing past sizeLimit: %v, want ENOSPC", err)
	}
	for _, name := range []string{"scratch", "disk"} {
		if fi, err := os.Stat(paths[name]); err != nil || fi.Mode().Perm() != 0o777 {
			t.Fatalf("%s: mode %v err %v, want 0777", name, fi.Mode().Perm(), err)
		}
	}
	if isTmpfs(t, paths["disk"]) {
		t.Fatal("disk emptyDir is on tmpfs")
	}
	if err := e.m.TearDown(e.ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
	if mps, _ := volume.MountPointsUnder(e.root); len(mps) != 0 {
		t.Fatalf("still mounted: %v", mps)
	}
	mustNotExist(t, dir)
}

func TestEmptyDirSizeLimitReportsEviction(t *testing.T) {
	var mu sync.Mutex
	var reported []string
	e := newEnv(t, volume.Options{OnEmptyDirExceeded: func(uid types.UID, vol, msg string) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, string(uid)+"/"+vol+": "+msg)
	}})
	limit := resource.MustParse("64Ki")
	pod := e.pod("quota", corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &limit}}})
	dir := e.setUp(t, pod)["cache"]
	e.m.Resync(e.ctx)
	if got := e.m.Exceeded(pod.UID); got != nil {
		t.Fatalf("exceeded while empty: %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "blob"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// A hard link to the same data is not counted twice.
	if err := os.Link(filepath.Join(dir, "blob"), filepath.Join(dir, "blob2")); err != nil {
		t.Fatal(err)
	}
	e.m.Resync(e.ctx)
	if used := e.m.EmptyDirUsage(pod.UID)["cache"]; used < 1<<20 || used > 1<<20+64<<10 {
		t.Fatalf("usage %d, want about 1MiB", used)
	}
	msg := e.m.Exceeded(pod.UID)["cache"]
	if want := `Usage of EmptyDir volume "cache" exceeds the limit "64Ki".`; !strings.Contains(msg, want) {
		t.Fatalf("Exceeded = %q, want %q", msg, want)
	}
	mu.Lock()
	if len(reported) != 1 || !strings.HasPrefix(reported[0], "uid-quota/cache: Usage of EmptyDir") {
		t.Fatalf("callback got %v", reported)
	}
	mu.Unlock()
	_ = os.Remove(filepath.Join(dir, "blob"))
	_ = os.Remove(filepath.Join(dir, "blob2"))
	e.m.Resync(e.ctx)
	if got := e.m.Exceeded(pod.UID); got != nil {
		t.Fatalf("still exceeded after cleanup: %v", got)
	}
}

func TestTearDownDoesNotFollowSymlinks(t *testing.T) {
	e := newEnv(t, volume.Options{})
	outside := t.TempDir()
	precious := filepath.Join(outside, "precious")
	if err := os.WriteFile(precious, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	pod := e.pod("links", corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	paths, err := e.m.SetUp(e.ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	// What a container could plant in its emptyDir.
	for name, target := range map[string]string{"to-dir": outside, "to-file": precious, "up": "../../../../.."} {
		if err := os.Symlink(target, filepath.Join(paths["scratch"], name)); err != nil {
			t.Fatal(err)
		}
	}
	uids, err := e.m.ListPodUIDs()
	if err != nil || len(uids) != 1 || uids[0] != pod.UID {
		t.Fatalf("ListPodUIDs = %v, %v", uids, err)
	}
	if err := e.m.TearDown(e.ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, precious); got != "keep" {
		t.Fatalf("file outside the volume changed: %q", got)
	}
	mustNotExist(t, filepath.Join(e.root, "pods", "uid-links"))
	if uids, _ := e.m.ListPodUIDs(); len(uids) != 0 {
		t.Fatalf("ListPodUIDs after TearDown = %v", uids)
	}
}

func TestUnsupportedVolumeAndBadNames(t *testing.T) {
	e := newEnv(t, volume.Options{})
	pod := e.pod("pvc", corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}},
		corev1.Volume{Name: "../x", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	e.tearDownAtEnd(t, pod.UID)
	_, err := e.m.SetUp(e.ctx, pod)
	if err == nil || !strings.Contains(err.Error(), `volume "data" : unsupported volume type`) ||
		!strings.Contains(err.Error(), `invalid volume name "../x"`) {
		t.Fatalf("SetUp error %v", err)
	}
	mustNotExist(t, filepath.Join(e.root, "pods", "uid-pvc", "volumes", "x"))
	pod.UID = "../../etc"
	if _, err := e.m.SetUp(e.ctx, pod); err == nil || !strings.Contains(err.Error(), "invalid pod UID") {
		t.Fatalf("SetUp with a bad UID: %v", err)
	}
	if err := e.m.TearDown(e.ctx, "../.."); err == nil {
		t.Fatal("TearDown accepted a bad UID")
	}
}
