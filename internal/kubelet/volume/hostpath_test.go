package volume_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

func TestHostPathTypes(t *testing.T) {
	e := newEnv(t, volume.Options{})
	host := t.TempDir()
	file := filepath.Join(host, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(host, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	cases := []struct {
		name, path string
		typ        corev1.HostPathType
		wantErr    string
	}{
		{"unset missing", filepath.Join(host, "nothing"), corev1.HostPathUnset, ""},
		{"dir or create", filepath.Join(host, "made/deep"), corev1.HostPathDirectoryOrCreate, ""},
		{"dir or create on file", file, corev1.HostPathDirectoryOrCreate, "hostPath type check failed: " + file + " is not a directory"},
		{"directory", host, corev1.HostPathDirectory, ""},
		{"directory missing", filepath.Join(host, "nope"), corev1.HostPathDirectory, " is not a directory"},
		{"directory on file", file, corev1.HostPathDirectory, "hostPath type check failed: " + file + " is not a directory"},
		{"file or create", filepath.Join(host, "new-file"), corev1.HostPathFileOrCreate, ""},
		{"file or create on dir", host, corev1.HostPathFileOrCreate, " is not a file"},
		{"file", file, corev1.HostPathFile, ""},
		{"file missing", filepath.Join(host, "nope"), corev1.HostPathFile, " is not a file"},
		{"socket", sock, corev1.HostPathSocket, ""},
		{"socket on file", file, corev1.HostPathSocket, " is not a socket file"},
		{"char device", "/dev/null", corev1.HostPathCharDev, ""},
		{"char device on file", file, corev1.HostPathCharDev, " is not a character device"},
		{"block device on char device", "/dev/null", corev1.HostPathBlockDev, "/dev/null is not a block device"},
		{"unknown type", host, corev1.HostPathType("Pipe"), `invalid hostPath type "Pipe"`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := e.pod("hp"+string(rune('a'+i)), corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: tc.path, Type: ptr(tc.typ)}}})
			e.tearDownAtEnd(t, pod.UID)
			paths, err := e.m.SetUp(e.ctx, pod)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if paths["host"] != tc.path {
				t.Fatalf("path %q, want %q", paths["host"], tc.path)
			}
		})
	}
	if st, err := os.Stat(filepath.Join(host, "made/deep")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Errorf("DirectoryOrCreate made %v (err %v)", st, err)
	}
	if st, err := os.Stat(filepath.Join(host, "new-file")); err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o644 {
		t.Errorf("FileOrCreate made %v (err %v)", st, err)
	}
	// TearDown never touches host paths.
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("host file gone: %v", err)
	}
}
