package images

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImportDockerArchive(t *testing.T) {
	tr := newTestRegistry(t)
	app, tool := randomImage(t), randomImage(t)
	archive := filepath.Join(t.TempDir(), "images.tar")
	refs := map[name.Reference]v1.Image{
		mustTag(t, "busybox:1.36"):                 app,
		mustTag(t, "ghcr.io/org/app:v1"):           app,
		mustTag(t, "registry.k8s.io/tool:2.0"):     tool,
		mustTag(t, "example.com:5000/team/x:edge"): tool,
	}
	if err := tarball.MultiRefWriteToFile(archive, refs); err != nil {
		t.Fatal(err)
	}
	names, err := Import(context.Background(), tr.reg, archive)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	want := []string{"library/busybox:1.36", "org/app:v1", "team/x:edge", "tool:2.0"}
	if !slices.Equal(names, want) {
		t.Errorf("imported %v, want %v", names, want)
	}
	tr.restart()
	for n, img := range map[string]v1.Image{"library/busybox:1.36": app, "org/app:v1": app, "tool:2.0": tool, "team/x:edge": tool} {
		if got, want := digestOf(t, tr.pull(n)), digestOf(t, img); got != want {
			t.Errorf("%s = %s, want %s", n, got, want)
		}
	}

	// List shows every tag with its digest and size.
	infos, err := List(tr.reg)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 4 {
		t.Fatalf("List = %+v", infos)
	}
	appSize := imageSize(t, app)
	for _, i := range infos {
		if i.Repository == "library/busybox" {
			if i.Tag != "1.36" || i.Digest != digestOf(t, app).String() || i.Size != appSize {
				t.Errorf("List entry %+v, want digest %s size %d", i, digestOf(t, app), appSize)
			}
		}
	}
}

// imageSize is what List reports for an image: manifest, config and
// layers.
func imageSize(t *testing.T, img v1.Image) int64 {
	raw, _ := img.RawManifest()
	m, _ := img.Manifest()
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestImportGzippedDockerArchive(t *testing.T) {
	tr := newTestRegistry(t)
	img := randomImage(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "image.tar")
	if err := tarball.WriteToFile(plain, mustTag(t, "app:1"), img); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "image.tar.gz")
	gzipFile(t, plain, gz)
	names, err := Import(context.Background(), tr.reg, gz)
	if err != nil || !slices.Equal(names, []string{"library/app:1"}) {
		t.Fatalf("Import = %v, %v", names, err)
	}
	if got := digestOf(t, tr.pull("library/app:1")); got != digestOf(t, img) {
		t.Errorf("pulled %s, want %s", got, digestOf(t, img))
	}
	leftovers, _ := filepath.Glob(filepath.Join(tr.dir, ".import-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func gzipFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	zw.Close()
}

// tarDir packs dir (an OCI layout) into a tarball.
func tarDir(t *testing.T, dir, dst string) {
	t.Helper()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	defer tw.Close()
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

func TestImportOCILayout(t *testing.T) {
	tr := newTestRegistry(t)
	img := randomImage(t)
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		annotationContainerdName: "quay.io/org/tool:3", annotationRefName: "3"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: "docker.io/library/multi:1"})); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "oci.tar")
	tarDir(t, dir, archive)
	names, err := Import(context.Background(), tr.reg, archive)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"org/tool:3", "library/multi:1"}) {
		t.Errorf("imported %v", names)
	}
	if got := digestOf(t, tr.pull("org/tool:3")); got != digestOf(t, img) {
		t.Errorf("org/tool:3 = %s, want %s", got, digestOf(t, img))
	}
	m, err := tr.reg.manifests.get("library/multi", "1")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := idx.Digest(); m.Digest != want || !m.MediaType.IsIndex() {
		t.Errorf("library/multi:1 = %s %s, want the index %s", m.Digest, m.MediaType, want)
	}
}

func TestImportRejectsBadArchives(t *testing.T) {
	tr := newTestRegistry(t)
	dir := t.TempDir()
	write := func(n string, b []byte) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tarOf := func(n string, files map[string]string) string {
		p := filepath.Join(dir, n)
		f, _ := os.Create(p)
		tw := tar.NewWriter(f)
		for name, content := range files {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
			tw.Write([]byte(content))
		}
		tw.Close()
		f.Close()
		return p
	}
	// A docker archive of an image with no name.
	untagged := filepath.Join(dir, "untagged.tar")
	img := randomImage(t)
	d, _ := img.Digest()
	if err := tarball.MultiRefWriteToFile(untagged, map[name.Reference]v1.Image{mustDigestRef(t, "app@"+d.String()): img}); err != nil {
		t.Fatal(err)
	}
	// An OCI layout naming its image by tag only.
	lay := t.TempDir()
	p, _ := layout.Write(lay, empty.Index)
	p.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "1.36"}))
	tagOnly := filepath.Join(dir, "tag-only.tar")
	tarDir(t, lay, tagOnly)
	// A truncated docker archive.
	good := filepath.Join(dir, "good.tar")
	tarball.WriteToFile(good, mustTag(t, "app:1"), img)
	b, _ := os.ReadFile(good)
	truncated := write("truncated.tar", b[:len(b)/2])

	cases := map[string]string{
		filepath.Join(dir, "missing.tar"):                                 "no such file",
		write("garbage.tar", []byte("this is not an archive")):            "not a readable tar archive",
		write("empty.tar", nil):                                           "empty",
		tarOf("other.tar", map[string]string{"hello.txt": "hi"}):          "neither",
		tarOf("badmanifest.tar", map[string]string{"manifest.json": "{"}): "manifest.json",
		write("badgzip.tar.gz", []byte{0x1f, 0x8b, 1, 2, 3}):              "decompressing the gzip",
		untagged:  "has no name",
		tagOnly:   "only by the tag",
		truncated: "",
	}
	for path, want := range cases {
		names, err := Import(context.Background(), tr.reg, path)
		t.Logf("Import(%s): %v", filepath.Base(path), err)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Import(%s) = %v, %v; want an error containing %q", filepath.Base(path), names, err, want)
		}
	}
	if infos, _ := List(tr.reg); len(infos) != 0 {
		t.Errorf("bad archives stored images: %+v", infos)
	}
}

func mustDigestRef(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestImportLegacyDockerSave imports the classic `docker save` layout:
// uncompressed <id>/layer.tar files named from manifest.json.
func TestImportLegacyDockerSave(t *testing.T) {
	tr := newTestRegistry(t)
	img := randomImage(t)
	layers, _ := img.Layers()
	cfg, _ := img.RawConfigFile()
	archive := filepath.Join(t.TempDir(), "legacy.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	var paths []string
	for i, l := range layers {
		rc, _ := l.Uncompressed()
		b, _ := io.ReadAll(rc)
		rc.Close()
		p := fmt.Sprintf("layer%d/layer.tar", i)
		add(p, b)
		paths = append(paths, fmt.Sprintf("%q", p))
	}
	add("config.json", cfg)
	add("manifest.json", []byte(`[{"Config":"config.json","RepoTags":["legacy:1"],"Layers":[`+strings.Join(paths, ",")+`]}]`))
	tw.Close()
	f.Close()

	names, err := Import(context.Background(), tr.reg, archive)
	if err != nil || !slices.Equal(names, []string{"library/legacy:1"}) {
		t.Fatalf("Import = %v, %v", names, err)
	}
	pulled := tr.pull("library/legacy:1")
	got, _ := pulled.ConfigFile()
	want, _ := img.ConfigFile()
	if !slices.Equal(got.RootFS.DiffIDs, want.RootFS.DiffIDs) {
		t.Errorf("diff IDs = %v, want %v", got.RootFS.DiffIDs, want.RootFS.DiffIDs)
	}
}
