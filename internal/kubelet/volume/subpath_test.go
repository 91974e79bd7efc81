package volume_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

func TestSafeSubPath(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(base, "vol")
	secret := filepath.Join(base, "host-secret")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(vol, "dir/sub"), 0o750))
	must(os.Chmod(vol, 0o750))
	must(os.Mkdir(secret, 0o700))
	must(os.WriteFile(filepath.Join(vol, "dir/file"), []byte("f"), 0o644))
	// Links a container could have written into its volume.
	links := map[string]string{
		"abs-out":         secret,                         // absolute, elsewhere on the host
		"abs-etc":         "/etc",                         // absolute, meant for the container's /etc
		"rel-out":         "../host-secret",               // climbs out
		"deep-out":        "dir/sub/../../../host-secret", // climbs out after going in
		"dir/sub/up":      "../../..",                     // nested, climbs out
		"chain1":          "chain2",                       // a chain whose end escapes
		"chain2":          "rel-out",                      //
		"loop1":           "loop2",                        //
		"loop2":           "loop1",                        //
		"in-rel":          "dir/sub",                      // stays inside
		"in-dotdot":       "dir/sub/../sub",               // stays inside
		"in-abs":          filepath.Join(vol, "dir"),      // absolute, but inside the volume
		"..data":          "..2026_01_01_00_00_00.1",      // the atomic writer's layout
		"conf":            "..data/conf",                  //
		"to-file":         "dir/file",                     //
		"dir/sub/sibling": "../file",                      //
	}
	must(os.MkdirAll(filepath.Join(vol, "..2026_01_01_00_00_00.1"), 0o755))
	must(os.WriteFile(filepath.Join(vol, "..2026_01_01_00_00_00.1/conf"), []byte("c"), 0o644))
	for name, target := range links {
		must(os.Symlink(target, filepath.Join(vol, name)))
	}

	ok := map[string]string{
		"":                vol,
		"dir":             filepath.Join(vol, "dir"),
		"dir/./sub/":      filepath.Join(vol, "dir/sub"),
		"in-rel":          filepath.Join(vol, "dir/sub"),
		"in-dotdot":       filepath.Join(vol, "dir/sub"),
		"in-abs/sub":      filepath.Join(vol, "dir/sub"),
		"conf":            filepath.Join(vol, "..2026_01_01_00_00_00.1/conf"),
		"to-file":         filepath.Join(vol, "dir/file"),
		"dir/sub/sibling": filepath.Join(vol, "dir/file"),
		"new/nested/dir":  filepath.Join(vol, "new/nested/dir"),
		"in-rel/created":  filepath.Join(vol, "dir/sub/created"),
	}
	for sub, want := range ok {
		got, err := volume.SafeSubPath(vol, sub)
		if err != nil || got != want {
			t.Errorf("SafeSubPath(%q) = %q, %v; want %q", sub, got, err, want)
		}
	}
	// Created components take the volume root's permissions.
	if st, err := os.Lstat(filepath.Join(vol, "new/nested")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Errorf("created dir: mode %v err %v, want the root's 0750", st.Mode(), err)
	}

	bad := map[string]string{
		"abs-out":        "outside the volume",
		"abs-out/x":      "outside the volume",
		"abs-etc":        "outside the volume",
		"rel-out":        "climbs out of volume",
		"rel-out/newdir": "climbs out of volume",
		"deep-out":       "climbs out of volume",
		"dir/sub/up":     "climbs out of volume",
		"dir/sub/up/vol": "climbs out of volume",
		"chain1":         "climbs out of volume",
		"loop1":          "too many levels of symbolic links",
		"../host-secret": "must not contain '..'",
		"dir/../../x":    "must not contain '..'",
		"/etc":           "must be a relative path",
		"dir/file/under": "is not a directory",
	}
	for sub, want := range bad {
		got, err := volume.SafeSubPath(vol, sub)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SafeSubPath(%q) = %q, %v; want error containing %q", sub, got, err, want)
		}
	}
	// Nothing was created outside the volume.
	if entries, _ := os.ReadDir(secret); len(entries) != 0 {
		t.Fatalf("created outside the volume: %v", entries)
	}
	if _, err := os.Lstat(filepath.Join(base, "newdir")); err == nil {
		t.Fatal("created outside the volume")
	}
	if _, err := volume.SafeSubPath("relative/root", "x"); err == nil {
		t.Fatal("relative volume root accepted")
	}
}
