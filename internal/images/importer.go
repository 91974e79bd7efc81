package images

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations that name an image in an OCI layout's index.json.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// Import stores every named image of an archive in reg and returns the
// names it stored, as "repository:tag" in the registry's mirror paths
// (docker.io's busybox:1.36 is "library/busybox:1.36"). The archive is a
// `docker save` tarball (it has manifest.json) or an OCI image layout
// tarball (oci-layout and index.json), either optionally gzip-compressed.
// Images without a name are an error, found before anything is stored.
func Import(ctx context.Context, reg *Registry, archive string) ([]string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	tarPath, cleanup, err := uncompressed(reg, f)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", archive, err)
	}
	defer cleanup()
	hasDockerManifest, hasOCIIndex, err := archiveKind(tarPath)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", archive, err)
	}
	var names []string
	switch {
	case hasDockerManifest:
		names, err = importDockerArchive(ctx, reg, tarPath)
	case hasOCIIndex:
		names, err = importOCILayout(ctx, reg, tarPath)
	default:
		err = errors.New("it is neither a `docker save` archive (no manifest.json) nor an OCI layout (no index.json)")
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", archive, err)
	}
	return names, nil
}

// uncompressed returns the path of the archive as a plain tar: the file
// itself, or a temporary copy with gzip removed (in the registry
// directory, which has room for the images anyway).
func uncompressed(reg *Registry, f *os.File) (string, func(), error) {
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return f.Name(), func() {}, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return "", nil, fmt.Errorf("decompressing the gzip archive: %w", err)
	}
	tmp, err := os.CreateTemp(reg.dir, ".import-*.tar")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.Remove(tmp.Name()) }
	_, err = io.Copy(tmp, zr)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("decompressing the gzip archive: %w", err)
	}
	return tmp.Name(), cleanup, nil
}

// archiveKind reads the tar's table of contents.
func archiveKind(tarPath string) (dockerManifest, ociIndex bool, err error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	entries := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, false, fmt.Errorf("not a readable tar archive: %w", err)
		}
		entries++
		switch path.Clean(hdr.Name) {
		case "manifest.json":
			dockerManifest = true
		case "index.json":
			ociIndex = true
		}
	}
	if entries == 0 {
		return false, false, errors.New("the archive is empty")
	}
	return dockerManifest, ociIndex, nil
}

// importDockerArchive imports a `docker save` archive: each image under
// each of its RepoTags.
func importDockerArchive(ctx context.Context, reg *Registry, tarPath string) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(tarPath) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("reading manifest.json: %w", err)
	}
	type named struct {
		tags  []name.Tag
		image v1.Image
	}
	var images []named
	for i, d := range manifest {
		if len(d.RepoTags) == 0 {
			return nil, fmt.Errorf("image %d of the archive (config %s) has no name; tag it before saving it", i+1, d.Config)
		}
		var tags []name.Tag
		for _, rt := range d.RepoTags {
			t, err := name.NewTag(rt)
			if err != nil {
				return nil, fmt.Errorf("image name %q: %w", rt, err)
			}
			tags = append(tags, t)
		}
		img, err := tarball.Image(opener, &tags[0])
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.RepoTags[0], err)
		}
		images = append(images, named{tags, img})
	}
	var stored []string
	for _, n := range images {
		for _, t := range n.tags {
			repo := t.Context().RepositoryStr()
			d, err := reg.pushImage(ctx, repo, n.image)
			if err != nil {
				return stored, fmt.Errorf("storing %s: %w", t, err)
			}
			if err := reg.tag(repo, t.TagStr(), d); err != nil {
				return stored, err
			}
			stored = append(stored, repo+":"+t.TagStr())
		}
	}
	return stored, nil
}
