package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// manifestMediaType settles a manifest's media type from the upload's
// Content-Type or, failing that, the body's mediaType field.
func manifestMediaType(mt types.MediaType, body []byte) (types.MediaType, error) {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return "", errManifestInvalid("manifest is not JSON: %v", err)
	}
	if mt == "" || mt == "application/json" || mt == "application/octet-stream" {
		mt = probe.MediaType
	}
	if !mt.IsImage() && !mt.IsIndex() {
		return "", errManifestInvalid("unsupported manifest media type %q", mt)
	}
	return mt, nil
}

// checkReferences refuses manifests that refer to content this registry
// lacks, so every stored tag can be pulled whole. Callers hold m.mu.
func (m *manifestStore) checkReferences(repo string, mt types.MediaType, body []byte, blobs *blobStore) error {
	if mt.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
		if err != nil {
			return errManifestInvalid("bad index manifest: %v", err)
		}
		r := m.repos[repo]
		for _, d := range idx.Manifests {
			if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
				continue
			}
			if r == nil || r.Manifests[d.Digest.String()] == "" {
				return regErr(http.StatusNotFound, "MANIFEST_UNKNOWN", "index refers to manifest %s, which %s does not hold", d.Digest, repo)
			}
		}
		return nil
	}
	mf, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return errManifestInvalid("bad image manifest: %v", err)
	}
	for _, d := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
		if !d.MediaType.IsDistributable() {
			continue // foreign layers are fetched from elsewhere
		}
		size, err := blobs.Stat(context.Background(), repo, d.Digest)
		if errors.Is(err, registry.ErrNotFound) {
			return regErr(http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "manifest refers to blob %s, which is not uploaded", d.Digest)
		}
		if err != nil {
			return errInternal(err)
		}
		if size != d.Size {
			return errManifestInvalid("manifest gives blob %s size %d, but it has %d bytes", d.Digest, d.Size, size)
		}
	}
	return nil
}
