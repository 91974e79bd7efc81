package volume_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

var generationName = regexp.MustCompile(`^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$`)

func TestConfigMapVolume(t *testing.T) {
	e := newEnv(t, volume.Options{})

	t.Run("update is atomic", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"a": "1", "b": "2"}}
		cm, err := e.client.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod := e.pod("cm", corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}})
		dir := e.setUp(t, pod)["config"]
		if want := filepath.Join(e.root, "pods", "uid-cm", "volumes", "kubernetes.io~configmap", "config"); dir != want {
			t.Fatalf("volume dir %s, want %s", dir, want)
		}
		if got := readFile(t, filepath.Join(dir, "a")); got != "1" {
			t.Fatalf("a = %q", got)
		}
		if got := readlink(t, filepath.Join(dir, "a")); got != "..data/a" {
			t.Fatalf("a links to %q, want ..data/a", got)
		}
		gen1 := readlink(t, filepath.Join(dir, "..data"))
		if !generationName.MatchString(gen1) {
			t.Fatalf("..data -> %q, not a timestamped generation", gen1)
		}
		st, err := os.Stat(filepath.Join(dir, "b"))
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("b: mode %v err %v, want 0644", st.Mode(), err)
		}

		// A running container holding the old file open keeps reading
		// the old content; new opens see the new generation.
		old, err := os.Open(filepath.Join(dir, "a"))
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()

		cm.Data = map[string]string{"a": "10", "c": "3"}
		if cm, err = e.client.CoreV1().ConfigMaps(e.ns).Update(e.ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Refresh(e.ctx, pod); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		gen2 := readlink(t, filepath.Join(dir, "..data"))
		if gen2 == gen1 || !generationName.MatchString(gen2) {
			t.Fatalf("..data did not move to a new generation: %q -> %q", gen1, gen2)
		}
		mustNotExist(t, filepath.Join(dir, gen1))
		mustNotExist(t, filepath.Join(dir, "b"))
		if got := readFile(t, filepath.Join(dir, "a")) + readFile(t, filepath.Join(dir, "c")); got != "103" {
			t.Fatalf("a+c = %q, want 103", got)
		}
		buf := make([]byte, 8)
		if n, _ := old.Read(buf); string(buf[:n]) != "1" {
			t.Fatalf("open old file reads %q", buf[:n])
		}
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		if len(names) != 4 { // ..<generation>, ..data, a, c
			t.Fatalf("volume dir holds %v", names)
		}

		// Nothing changed: Resync leaves ..data where it is.
		e.m.Resync(e.ctx)
		if gen3 := readlink(t, filepath.Join(dir, "..data")); gen3 != gen2 {
			t.Fatalf("unchanged content moved ..data: %q -> %q", gen2, gen3)
		}

		// Resync picks up API changes by itself.
		cm.Data = map[string]string{"a": "11"}
		if _, err := e.client.CoreV1().ConfigMaps(e.ns).Update(e.ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.m.Resync(e.ctx)
		if got := readFile(t, filepath.Join(dir, "a")); got != "11" {
			t.Fatalf("after Resync a = %q", got)
		}
		mustNotExist(t, filepath.Join(dir, "c"))
	})

	t.Run("items, modes and binary data", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "items"},
			Data: map[string]string{"conf": "x=1", "skip": "no"}, BinaryData: map[string][]byte{"bin": {0, 1, 2}}}
		if _, err := e.client.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := e.pod("items", corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "items"},
				DefaultMode: ptr(int32(0o600)),
				Items: []corev1.KeyToPath{
					{Key: "conf", Path: "etc/app/app.conf", Mode: ptr(int32(0o400))},
					{Key: "bin", Path: "data.bin"},
				}}}})
		dir := e.setUp(t, pod)["v"]
		if got := readlink(t, filepath.Join(dir, "etc")); got != "..data/etc" {
			t.Fatalf("etc -> %q", got)
		}
		if got := readFile(t, filepath.Join(dir, "etc/app/app.conf")); got != "x=1" {
			t.Fatalf("app.conf = %q", got)
		}
		if got := readFile(t, filepath.Join(dir, "data.bin")); got != "\x00\x01\x02" {
			t.Fatalf("data.bin = %q", got)
		}
		for path, mode := range map[string]os.FileMode{"etc/app/app.conf": 0o400, "data.bin": 0o600} {
			st, err := os.Stat(filepath.Join(dir, path))
			if err != nil || st.Mode().Perm() != mode {
				t.Fatalf("%s: mode %v (err %v), want %v", path, st.Mode().Perm(), err, mode)
			}
		}
		mustNotExist(t, filepath.Join(dir, "skip"))
	})

	t.Run("missing and optional", func(t *testing.T) {
		pod := e.pod("missing", corev1.Volume{Name: "must", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "later"}}}},
			corev1.Volume{Name: "maybe", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "never"},
					Optional: ptr(true)}}},
			corev1.Volume{Name: "maybe-secret", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: "never", Optional: ptr(true)}}},
			corev1.Volume{Name: "must-secret", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: "gone"}}})
		e.tearDownAtEnd(t, pod.UID)
		paths, err := e.m.SetUp(e.ctx, pod)
		if err == nil {
			t.Fatal("SetUp succeeded with a missing configmap")
		}
		for _, want := range []string{
			`MountVolume.SetUp failed for volume "must" : configmap "later" not found`,
			`MountVolume.SetUp failed for volume "must-secret" : secret "gone" not found`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		var se *volume.SetUpError
		if !errors.As(err, &se) || !apierrors.IsNotFound(se) {
			t.Fatalf("error is not a not-found *SetUpError: %#v", err)
		}
		if _, ok := paths["must"]; ok {
			t.Fatal("failed volume in the path map")
		}
		for _, name := range []string{"maybe", "maybe-secret"} {
			dir := paths[name]
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) != 2 { // ..data and its empty generation
				t.Fatalf("optional missing %s: entries %v err %v", name, entries, err)
			}
		}
		// Once the configmap exists, the next SetUp succeeds for it.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later"}, Data: map[string]string{"k": "v"}}
		if _, err := e.client.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		paths, err = e.m.SetUp(e.ctx, pod)
		if err == nil || strings.Contains(err.Error(), "configmap") {
			t.Fatalf("want only the secret to fail, got %v", err)
		}
		if got := readFile(t, filepath.Join(paths["must"], "k")); got != "v" {
			t.Fatalf("k = %q", got)
		}
	})

	t.Run("missing key", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keys"}, Data: map[string]string{"have": "1"}}
		if _, err := e.client.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		src := func(optional bool) corev1.VolumeSource {
			return corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "keys"}, Optional: ptr(optional),
				Items: []corev1.KeyToPath{{Key: "have", Path: "have"}, {Key: "lack", Path: "lack"}}}}
		}
		pod := e.pod("keys", corev1.Volume{Name: "strict", VolumeSource: src(false)},
			corev1.Volume{Name: "lenient", VolumeSource: src(true)})
		e.tearDownAtEnd(t, pod.UID)
		paths, err := e.m.SetUp(e.ctx, pod)
		if err == nil || !strings.Contains(err.Error(), "configmap references non-existent config key: lack") {
			t.Fatalf("SetUp error %v", err)
		}
		if got := readFile(t, filepath.Join(paths["lenient"], "have")); got != "1" {
			t.Fatalf("have = %q", got)
		}
		mustNotExist(t, filepath.Join(paths["lenient"], "lack"))
	})

	t.Run("item paths cannot escape", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "evil"}, Data: map[string]string{"k": "pwned"}}
		if _, err := e.client.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i, path := range []string{"../../../../escape", "/abs", "..data", "a/../../b", "..2020_01_01"} {
			pod := e.pod("evil"+string(rune('a'+i)), corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "evil"},
					Items: []corev1.KeyToPath{{Key: "k", Path: path}}}}})
			e.tearDownAtEnd(t, pod.UID)
			if _, err := e.m.SetUp(e.ctx, pod); err == nil || !strings.Contains(err.Error(), "invalid path") {
				t.Errorf("path %q: SetUp error %v, want invalid path", path, err)
			}
		}
		mustNotExist(t, filepath.Join(e.root, "escape"))
		mustNotExist(t, filepath.Join(e.root, "pods", "escape"))
	})
}
