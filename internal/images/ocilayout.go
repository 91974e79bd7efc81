package images

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// importOCILayout imports an OCI layout tarball: each entry of index.json
// under the name in its annotations. An index whose platforms are not all
// in the archive (as `ctr export --platform` writes them) is imported as
// the image for this machine's platform.
func importOCILayout(ctx context.Context, reg *Registry, tarPath string) ([]string, error) {
	dir, err := os.MkdirTemp(reg.dir, ".import-layout-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractLayout(tarPath, dir); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	type entry struct {
		tag  name.Tag
		desc v1.Descriptor
	}
	var entries []entry
	for i, d := range im.Manifests {
		t, err := layoutName(d)
		if err != nil {
			return nil, fmt.Errorf("entry %d of index.json (%s): %w", i+1, d.Digest, err)
		}
		entries = append(entries, entry{t, d})
	}
	var stored []string
	for _, e := range entries {
		repo := e.tag.Context().RepositoryStr()
		d, err := pushLayoutEntry(ctx, reg, repo, dir, idx, e.desc)
		if err != nil {
			return stored, fmt.Errorf("storing %s: %w", e.tag, err)
		}
		if err := reg.tag(repo, e.tag.TagStr(), d); err != nil {
			return stored, err
		}
		stored = append(stored, repo+":"+e.tag.TagStr())
	}
	return stored, nil
}

// layoutName reads an index.json entry's image name. A bare tag (skopeo
// and docker write "1.36" in ref.name) is not enough without a repository.
func layoutName(d v1.Descriptor) (name.Tag, error) {
	n := d.Annotations[annotationContainerdName]
	if n == "" {
		n = d.Annotations[annotationRefName]
		if n != "" && !strings.ContainsAny(n, ":/") {
			return name.Tag{}, fmt.Errorf("it is named only by the tag %q, without a repository", n)
		}
	}
	if n == "" {
		return name.Tag{}, fmt.Errorf("it has no name (no %s or %s annotation)", annotationContainerdName, annotationRefName)
	}
	t, err := name.NewTag(n)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image name %q: %w", n, err)
	}
	return t, nil
}

func pushLayoutEntry(ctx context.Context, reg *Registry, repo, dir string, idx v1.ImageIndex, d v1.Descriptor) (v1.Hash, error) {
	switch {
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return v1.Hash{}, err
		}
		return reg.pushImage(ctx, repo, img)
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return v1.Hash{}, err
		}
		if complete, err := layoutHasAll(dir, child); err != nil {
			return v1.Hash{}, err
		} else if complete {
			return reg.pushIndex(ctx, repo, child)
		}
		img, err := platformImage(child)
		if err != nil {
			return v1.Hash{}, err
		}
		return reg.pushImage(ctx, repo, img)
	default:
		return v1.Hash{}, fmt.Errorf("unsupported media type %q", d.MediaType)
	}
}

// layoutHasAll reports whether every manifest an index lists, and every
// blob of those, is in the layout.
func layoutHasAll(dir string, idx v1.ImageIndex) (bool, error) {
	has := func(h v1.Hash) bool {
		_, err := os.Stat(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
		return err == nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return false, err
	}
	for _, d := range im.Manifests {
		if !has(d.Digest) {
			return false, nil
		}
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return false, err
			}
			if ok, err := layoutHasAll(dir, child); !ok || err != nil {
				return ok, err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return false, err
			}
			mf, err := img.Manifest()
			if err != nil {
				return false, err
			}
			for _, b := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
				if b.MediaType.IsDistributable() && !has(b.Digest) {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

// platformImage picks the linux image for this machine's architecture.
func platformImage(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH && d.MediaType.IsImage() {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("the archive has neither all platforms of the index nor an image for linux/%s", runtime.GOARCH)
}

// extractLayout unpacks the parts of an OCI layout (oci-layout,
// index.json, blobs/) into dir, refusing paths that leave it.
func extractLayout(tarPath, dir string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		p := path.Clean(hdr.Name)
		if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
			return fmt.Errorf("the archive has an entry outside itself: %q", hdr.Name)
		}
		if hdr.Typeflag != tar.TypeReg || (p != "oci-layout" && p != "index.json" && !strings.HasPrefix(p, "blobs/")) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extracting %s: %w", p, err)
		}
	}
}
