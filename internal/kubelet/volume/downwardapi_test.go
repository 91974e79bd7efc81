package volume_test

import (
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

func TestDownwardAPIVolume(t *testing.T) {
	e := newEnv(t, volume.Options{NodeName: "no-such-node"})
	field := func(path, fieldPath string) corev1.DownwardAPIVolumeFile {
		return corev1.DownwardAPIVolumeFile{Path: path, FieldRef: &corev1.ObjectFieldSelector{FieldPath: fieldPath}}
	}
	res := func(path, res, divisor string) corev1.DownwardAPIVolumeFile {
		return corev1.DownwardAPIVolumeFile{Path: path, ResourceFieldRef: &corev1.ResourceFieldSelector{
			ContainerName: "app", Resource: res, Divisor: resource.MustParse(divisor)}}
	}
	pod := e.pod("downward", corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{
		DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			field("name", "metadata.name"),
			field("namespace", "metadata.namespace"),
			field("uid", "metadata.uid"),
			field("labels", "metadata.labels"),
			field("annotations", "metadata.annotations"),
			field("tier", "metadata.labels['tier']"),
			res("mem_limit_mi", "limits.memory", "1Mi"),
			res("cpu_request_m", "requests.cpu", "1m"),
			res("cpu_limit", "limits.cpu", "1"),
		}}}})
	pod.Labels = map[string]string{"tier": "web", "app": "shop"}
	pod.Annotations = map[string]string{"note": "say \"hi\""}
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
	}
	dir := e.setUp(t, pod)["info"]
	if want := filepath.Join(e.root, "pods", "uid-downward", "volumes", "kubernetes.io~downward-api", "info"); dir != want {
		t.Fatalf("dir %s, want %s", dir, want)
	}
	want := map[string]string{
		"name":          "downward",
		"namespace":     e.ns,
		"uid":           "uid-downward",
		"labels":        "app=\"shop\"\ntier=\"web\"",
		"annotations":   `note="say \"hi\""`,
		"tier":          "web",
		"mem_limit_mi":  "64",
		"cpu_request_m": "250",
		// No CPU limit and no Node object: the machine's CPU count.
		"cpu_limit": strconv.Itoa(runtime.NumCPU()),
	}
	for f, v := range want {
		if got := readFile(t, filepath.Join(dir, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}

	gen1 := readlink(t, filepath.Join(dir, "..data"))
	updated := pod.DeepCopy()
	updated.Labels = map[string]string{"tier": "db"}
	if err := e.m.Refresh(e.ctx, updated); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "labels")); got != `tier="db"` {
		t.Fatalf("labels after update = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "tier")); got != "db" {
		t.Fatalf("tier after update = %q", got)
	}
	if gen2 := readlink(t, filepath.Join(dir, "..data")); gen2 == gen1 {
		t.Fatal("..data did not move")
	}
	mustNotExist(t, filepath.Join(dir, gen1))
}
