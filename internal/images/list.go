package images

import (
	"bytes"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ImageInfo is one tag of the registry, for `skiff image ls`.
type ImageInfo struct {
	// Repository is the path in the registry ("library/busybox",
	// "pause"); the same path serves every mirrored upstream registry.
	Repository string
	Tag        string
	Digest     string
	MediaType  string
	// Size is the bytes of stored content the tag refers to: manifests,
	// configs and (compressed) layers, each counted once. Layers shared
	// with other images count for each of them.
	Size int64
}

// List returns every tag in the registry, sorted by repository and tag.
func List(reg *Registry) ([]ImageInfo, error) {
	var out []ImageInfo
	for _, repo := range reg.manifests.repositories() {
		tags, err := reg.manifests.tags(repo)
		if err != nil {
			continue // removed meanwhile
		}
		for _, tag := range tags {
			m, err := reg.manifests.get(repo, tag)
			if err != nil {
				continue
			}
			size, err := reg.contentSize(repo, m, map[v1.Hash]bool{})
			if err != nil {
				return nil, err
			}
			out = append(out, ImageInfo{Repository: repo, Tag: tag, Digest: m.Digest.String(), MediaType: string(m.MediaType), Size: size})
		}
	}
	return out, nil
}

// contentSize adds up m and what it refers to that is stored, skipping
// digests already in seen.
func (r *Registry) contentSize(repo string, m storedManifest, seen map[v1.Hash]bool) (int64, error) {
	if seen[m.Digest] {
		return 0, nil
	}
	seen[m.Digest] = true
	size := int64(len(m.Body))
	if m.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(m.Body))
		if err != nil {
			return 0, err
		}
		for _, d := range idx.Manifests {
			child, err := r.manifests.get(repo, d.Digest.String())
			if err != nil {
				continue // a platform this registry does not have
			}
			n, err := r.contentSize(repo, child, seen)
			if err != nil {
				return 0, err
			}
			size += n
		}
		return size, nil
	}
	mf, err := v1.ParseManifest(bytes.NewReader(m.Body))
	if err != nil {
		return 0, err
	}
	for _, d := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
		if !seen[d.Digest] && r.blobs.has(d.Digest) {
			seen[d.Digest] = true
			size += d.Size
		}
	}
	return size, nil
}
