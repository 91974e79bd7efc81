package images

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func builtinByName(t *testing.T, bs []Builtin, n string) v1.Image {
	t.Helper()
	for _, b := range bs {
		if slices.Contains(b.Names, n) {
			return b.Image
		}
	}
	t.Fatalf("no built-in image named %s", n)
	return nil
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestBuiltinImagesHaveTheirFilesAndConfig(t *testing.T) {
	src := standInSources(t)
	bs, err := BuildBuiltins(src)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Stat(src.Executable)
	for _, b := range bs {
		if err := checkImage(t, b.Image); err != nil {
			t.Errorf("%v: invalid image: %v", b.Names, err)
		}
		mt, _ := b.Image.MediaType()
		cf, err := b.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if ls, _ := b.Image.Manifest(); ls.Layers[0].MediaType != types.OCIUncompressedLayer {
			t.Errorf("%v: layer media type %s", b.Names, ls.Layers[0].MediaType)
		}
		if mt != types.OCIManifestSchema1 || cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Time.Equal(builtinTime) {
			t.Errorf("%v: media type %s, platform %s/%s, created %v", b.Names, mt, cf.OS, cf.Architecture, cf.Created)
		}
	}

	pause := builtinByName(t, bs, PauseImage)
	cf, _ := pause.ConfigFile()
	if !slices.Equal(cf.Config.Entrypoint, []string{"/pause"}) || len(cf.Config.Cmd) != 0 || cf.Config.User != "65535:65535" {
		t.Errorf("pause config = %+v", cf.Config)
	}
	ls, _ := pause.Layers()
	if len(ls) != 1 {
		t.Fatalf("pause has %d layers, want 1", len(ls))
	}
	files := readLayer(t, ls[0])
	if f := files["skiff"]; f.typ != tar.TypeReg || f.mode != 0o755 || f.size != exe.Size() || f.uid != 0 {
		t.Errorf("/skiff = %+v", f)
	}
	for _, link := range []string{"pause", "agnhost", "testserver"} {
		if f := files[link]; f.typ != tar.TypeSymlink || f.linkname != "skiff" {
			t.Errorf("/%s = %+v, want a symlink to skiff", link, f)
		}
	}

	busybox := builtinByName(t, bs, BusyboxImage)
	cf, _ = busybox.ConfigFile()
	if len(cf.Config.Entrypoint) != 0 || !slices.Equal(cf.Config.Cmd, []string{"sh"}) || !slices.Contains(cf.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
		t.Errorf("busybox config = %+v", cf.Config)
	}
	ls, _ = busybox.Layers()
	if len(ls) != 1 {
		t.Fatalf("busybox has %d layers, want 1", len(ls))
	}
	files = readLayer(t, ls[0])
	bb, _ := os.Stat(src.Busybox)
	checks := map[string]layerEntry{
		"bin":         {typ: tar.TypeDir, mode: 0o755},
		"bin/busybox": {typ: tar.TypeReg, mode: 0o755, size: bb.Size()},
		"bin/sh":      {typ: tar.TypeSymlink, mode: 0o777, linkname: "busybox"},
		"bin/wget":    {typ: tar.TypeSymlink, mode: 0o777, linkname: "busybox"},
		"usr/bin/env": {typ: tar.TypeSymlink, mode: 0o777, linkname: "../../bin/busybox"},
		"tmp":         {typ: tar.TypeDir, mode: 0o1777},
		"root":        {typ: tar.TypeDir, mode: 0o700},
		"etc":         {typ: tar.TypeDir, mode: 0o755},
		"etc/passwd":  {typ: tar.TypeReg, mode: 0o644, size: int64(len(etcPasswd))},
		"etc/group":   {typ: tar.TypeReg, mode: 0o644, size: int64(len(etcGroup))},
		"usr":         {typ: tar.TypeDir, mode: 0o755},
	}
	for p, want := range checks {
		got, ok := files[p]
		if !ok || got.typ != want.typ || got.mode != want.mode || got.linkname != want.linkname || got.size != want.size {
			t.Errorf("/%s = %+v (present %v), want %+v", p, got, ok, want)
		}
	}
	if !strings.Contains(string(files["etc/passwd"].data), "root:x:0:0:") || !strings.Contains(string(files["etc/passwd"].data), "nobody:x:65534:65534:") {
		t.Errorf("/etc/passwd = %q", files["etc/passwd"].data)
	}
	applets, err := busyboxApplets(src.Busybox)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range applets {
		if f := files["bin/"+a]; f.typ != tar.TypeSymlink || f.linkname != "busybox" {
			t.Errorf("applet /bin/%s = %+v", a, f)
		}
	}
	if len(applets) < 100 {
		t.Errorf("only %d applets", len(applets))
	}

	// The test server is the busybox layer with the skiff layer on top;
	// the skiff layer is the pause image's, byte for byte.
	ts := builtinByName(t, bs, TestServerImage)
	cf, _ = ts.ConfigFile()
	if !slices.Equal(cf.Config.Entrypoint, []string{"/agnhost"}) {
		t.Errorf("test server config = %+v", cf.Config)
	}
	got := layerDigests(t, ts)
	want := append(layerDigests(t, busybox), layerDigests(t, pause)...)
	if !slices.Equal(got, want) {
		t.Errorf("test server layers = %v, want busybox's then pause's %v", got, want)
	}
	for _, n := range []string{"skiff/pause:latest", "docker.io/library/busybox:latest", "skiff/testserver:latest"} {
		builtinByName(t, bs, n)
	}
}

func TestBuiltinImagesAreReproducible(t *testing.T) {
	src := standInSources(t)
	digests := func() []string {
		bs, err := BuildBuiltins(src)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range bs {
			d, err := b.Image.Digest()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d.String())
		}
		return out
	}
	first, second := digests(), digests()
	if !slices.Equal(first, second) {
		t.Errorf("two builds differ: %v vs %v", first, second)
	}
}

func TestBuildBuiltinsRefusesUnusableExecutables(t *testing.T) {
	requireBusybox(t)
	notELF := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755)
	cases := map[string]string{
		notELF:                          "not an ELF executable",
		filepath.Join(t.TempDir(), "x"): "no such file",
	}
	if dyn, err := exec.LookPath("ls"); err == nil {
		if _, err := staticArch(dyn); err != nil && strings.Contains(err.Error(), "dynamically linked") {
			cases[dyn] = "dynamically linked"
		}
	}
	for exe, want := range cases {
		_, err := BuildBuiltins(Sources{Executable: exe, Busybox: hostBusybox})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BuildBuiltins with %s: %v, want an error saying %q", exe, err, want)
		}
	}
}

// TestBusyboxImageRuns unpacks the busybox image and runs its shell in a
// chroot.
func TestBusyboxImageRuns(t *testing.T) {
	requireRoot(t)
	bs, err := BuildBuiltins(standInSources(t))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extractImage(t, builtinByName(t, bs, BusyboxImage), root)
	out, err := exec.Command("chroot", root, "/bin/sh", "-c", "echo ok; id -un; ls -ld /tmp | cut -c1-10").CombinedOutput()
	if err != nil || string(out) != "ok\nroot\ndrwxrwxrwt\n" {
		t.Errorf("sh in the busybox image: %v: %q", err, out)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (chroot)")
	}
	if _, err := exec.LookPath("chroot"); err != nil {
		t.Skip("needs chroot")
	}
}
