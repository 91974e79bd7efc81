package volume_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

func TestSecretVolumeIsTmpfsAndUnmountedOnTearDown(t *testing.T) {
	requireRoot(t)
	e := newEnv(t, volume.Options{})
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{"password": []byte("hunter2")}}
	if _, err := e.client.CoreV1().Secrets(e.ns).Create(e.ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := e.pod("secret", corev1.Volume{Name: "creds", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr(int32(0o440))}}})
	paths, err := e.m.SetUp(e.ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["creds"]
	if want := filepath.Join(e.root, "pods", "uid-secret", "volumes", "kubernetes.io~secret", "creds"); dir != want {
		t.Fatalf("dir %s, want %s", dir, want)
	}
	if !isTmpfs(t, dir) {
		t.Fatal("secret volume is not on tmpfs")
	}
	if mps, _ := volume.MountPointsUnder(dir); len(mps) != 1 || mps[0] != dir {
		t.Fatalf("mounts under %s: %v", dir, mps)
	}
	if got := readFile(t, filepath.Join(dir, "password")); got != "hunter2" {
		t.Fatalf("password = %q", got)
	}
	if st, _ := os.Stat(filepath.Join(dir, "password")); st.Mode().Perm() != 0o440 {
		t.Fatalf("mode %v, want 0440", st.Mode().Perm())
	}
	// SetUp again does not stack a second tmpfs.
	if _, err := e.m.SetUp(e.ctx, pod); err != nil {
		t.Fatal(err)
	}
	if mps, _ := volume.MountPointsUnder(dir); len(mps) != 1 {
		t.Fatalf("mounts after second SetUp: %v", mps)
	}
	if err := e.m.TearDown(e.ctx, pod.UID); err != nil {
		t.Fatal(err)
	}
	if mps, _ := volume.MountPointsUnder(e.root); len(mps) != 0 {
		t.Fatalf("still mounted after TearDown: %v", mps)
	}
	mustNotExist(t, filepath.Join(e.root, "pods", "uid-secret"))
	if err := e.m.TearDown(e.ctx, pod.UID); err != nil {
		t.Fatalf("second TearDown: %v", err)
	}
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func projectedPod(e *env, name string) *corev1.Pod {
	pod := e.pod(name, corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr(int32(0o644)), Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3600))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "extra"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}})
	pod.Spec.ServiceAccountName = "default"
	return pod
}

func createProjectedSources(t *testing.T, e *env) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}, Data: map[string]string{"ca.crt": "CA"}}
	if _, err := e.client.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "extra"}, Data: map[string][]byte{"extra": []byte("E")}}
	if _, err := e.client.CoreV1().Secrets(e.ns).Create(e.ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The in-process API server does not serve TokenRequest: the token file
// is left out, the rest written, and the reason logged once.
func TestProjectedVolumeWithoutTokenRequestAPI(t *testing.T) {
	requireRoot(t)
	logs := &logBuffer{}
	e := newEnv(t, volume.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	createProjectedSources(t, e)
	pod := projectedPod(e, "projected")
	dir := e.setUp(t, pod)["kube-api-access"]
	if !isTmpfs(t, dir) {
		t.Fatal("projected volume is not on tmpfs")
	}
	if got := readFile(t, filepath.Join(dir, "ca.crt")) + readFile(t, filepath.Join(dir, "extra")) +
		readFile(t, filepath.Join(dir, "namespace")); got != "CAE"+e.ns {
		t.Fatalf("files = %q", got)
	}
	mustNotExist(t, filepath.Join(dir, "token"))
	e.m.Resync(e.ctx)
	if n := strings.Count(logs.String(), "does not serve the TokenRequest API"); n != 1 {
		t.Fatalf("logged the missing TokenRequest API %d times, want once:\n%s", n, logs)
	}
}

func TestProjectedServiceAccountTokenIsRenewed(t *testing.T) {
	requireRoot(t)
	clk := testingclock.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var reqs []*authenticationv1.TokenRequest
	requester := func(_ context.Context, ns, sa string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, req)
		out := req.DeepCopy()
		out.Status.Token = fmt.Sprintf("token-%d-%s-%s", len(reqs), ns, sa)
		out.Status.ExpirationTimestamp = metav1.NewTime(clk.Now().Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second))
		return out, nil
	}
	e := newEnv(t, volume.Options{Clock: clk, TokenRequester: requester})
	createProjectedSources(t, e)
	pod := projectedPod(e, "token")
	dir := e.setUp(t, pod)["kube-api-access"]
	want := "token-1-" + e.ns + "-default"
	if got := readFile(t, filepath.Join(dir, "token")); got != want {
		t.Fatalf("token = %q, want %q", got, want)
	}
	ref := reqs[0].Spec.BoundObjectRef
	if ref == nil || ref.Kind != "Pod" || ref.Name != pod.Name || ref.UID != pod.UID {
		t.Fatalf("token not bound to the pod: %+v", ref)
	}
	clk.Step(40 * time.Minute) // under 80% of an hour: cached
	e.m.Resync(e.ctx)
	if got := readFile(t, filepath.Join(dir, "token")); got != want {
		t.Fatalf("token renewed too early: %q", got)
	}
	clk.Step(10 * time.Minute) // 50 of 60 minutes: renewed
	e.m.Resync(e.ctx)
	if got := readFile(t, filepath.Join(dir, "token")); got != "token-2-"+e.ns+"-default" {
		t.Fatalf("token after 50m = %q", got)
	}
}
