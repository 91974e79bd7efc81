package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// mirrorRef splits an image name into the repository path and tag (or
// digest) a registry mirror is asked for: "busybox:1.36" is
// ("library/busybox", "1.36"), "registry.k8s.io/pause:3.10" is
// ("pause", "3.10"). A name without tag or digest means tag "latest".
func mirrorRef(image string) (repo, ref string, err error) {
	r, err := name.ParseReference(image)
	if err != nil {
		return "", "", fmt.Errorf("image name %q: %w", image, err)
	}
	return r.Context().RepositoryStr(), r.Identifier(), nil
}

// pushImage stores img's blobs and manifest in repo (unless already
// there) and returns the manifest's digest. It does not tag.
func (r *Registry) pushImage(ctx context.Context, repo string, img v1.Image) (v1.Hash, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return v1.Hash{}, err
		}
		if !mt.IsDistributable() {
			continue
		}
		d, err := l.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		if r.blobs.has(d) {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		if err := r.blobs.Put(ctx, repo, d, rc); err != nil {
			return v1.Hash{}, fmt.Errorf("storing layer %s: %w", d, err)
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := r.blobs.putBytes(cfg); err != nil {
		return v1.Hash{}, fmt.Errorf("storing config: %w", err)
	}
	return r.pushManifest(repo, img)
}

// pushIndex stores an index, every image and index it lists, and their
// blobs in repo, and returns the index's digest.
func (r *Registry) pushIndex(ctx context.Context, repo string, idx v1.ImageIndex) (v1.Hash, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return v1.Hash{}, err
			}
			if _, err := r.pushIndex(ctx, repo, child); err != nil {
				return v1.Hash{}, err
			}
		case d.MediaType.IsImage():
			child, err := idx.Image(d.Digest)
			if err != nil {
				return v1.Hash{}, err
			}
			if _, err := r.pushImage(ctx, repo, child); err != nil {
				return v1.Hash{}, err
			}
		}
	}
	return r.pushManifest(repo, idx)
}

type manifestSource interface {
	RawManifest() ([]byte, error)
	Digest() (v1.Hash, error)
	MediaType() (types.MediaType, error)
}

func (r *Registry) pushManifest(repo string, m manifestSource) (v1.Hash, error) {
	raw, err := m.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	mt, err := m.MediaType()
	if err != nil {
		return v1.Hash{}, err
	}
	want, err := m.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	return r.manifests.put(repo, want.String(), mt, raw, r.blobs)
}

// tag points repo:tag at a manifest the repository holds.
func (r *Registry) tag(repo, tag string, digest v1.Hash) error {
	return r.manifests.tag(repo, tag, digest)
}
