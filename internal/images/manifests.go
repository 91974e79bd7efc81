package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifestSize bounds a manifest upload (the size the distribution spec
// suggests registries accept at least).
const maxManifestSize = 4 << 20

var (
	// Repository and tag grammar of the OCI distribution spec.
	repoNameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE      = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// manifestStore is the registry's index: which manifests each repository
// holds and what its tags point to. Manifest bodies are content-addressed
// files in their own blobStore; the index is one JSON file, rewritten
// atomically on every change, so pushed images survive restarts. It is
// small (names and digests) and kept in memory.
type manifestStore struct {
	mu     sync.RWMutex
	bodies *blobStore
	file   string
	repos  map[string]*repository
}

// repository is one repository's part of the index (also its JSON form).
type repository struct {
	Tags      map[string]string `json:"tags"`      // tag -> manifest digest
	Manifests map[string]string `json:"manifests"` // manifest digest -> media type
}

func (r *repository) clone() *repository {
	return &repository{Tags: maps.Clone(r.Tags), Manifests: maps.Clone(r.Manifests)}
}

type indexFile struct {
	Repositories map[string]*repository `json:"repositories"`
}

// storedManifest is a manifest as served.
type storedManifest struct {
	Digest    v1.Hash
	MediaType types.MediaType
	Body      []byte
}

func openManifestStore(dir string) (*manifestStore, error) {
	bodies, err := openBlobStore(filepath.Join(dir, "manifests"))
	if err != nil {
		return nil, err
	}
	m := &manifestStore{bodies: bodies, file: filepath.Join(dir, "index.json"), repos: map[string]*repository{}}
	b, err := os.ReadFile(m.file)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	var idx indexFile
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("registry index %s is corrupt: %w", m.file, err)
	}
	for name, r := range idx.Repositories {
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		if r.Manifests == nil {
			r.Manifests = map[string]string{}
		}
		m.repos[name] = r
	}
	return m, nil
}

// save writes the index with repo replaced by r (removed if r is nil) and,
// only once that is on disk, installs the change in memory. Callers hold
// m.mu for writing.
func (m *manifestStore) save(repo string, r *repository) error {
	next := maps.Clone(m.repos)
	if r == nil || len(r.Manifests) == 0 {
		delete(next, repo)
	} else {
		next[repo] = r
	}
	b, err := json.MarshalIndent(indexFile{Repositories: next}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(m.file, b); err != nil {
		return fmt.Errorf("saving registry index: %w", err)
	}
	m.repos = next
	return nil
}

// writeFileAtomic replaces path with b so readers see the old or the new
// content, never a mix, even across a crash.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func checkRepoName(repo string) error {
	if len(repo) > 255 || !repoNameRE.MatchString(repo) {
		return errNameInvalid(repo)
	}
	return nil
}

// resolve returns the digest ref (a tag or digest) names in repo.
// Callers hold m.mu.
func (m *manifestStore) resolve(repo, ref string) (v1.Hash, types.MediaType, error) {
	r, ok := m.repos[repo]
	if !ok {
		return v1.Hash{}, "", errNameUnknown(repo)
	}
	digest := ref
	if d, isTag := r.Tags[ref]; isTag {
		digest = d
	}
	mt, ok := r.Manifests[digest]
	if !ok {
		return v1.Hash{}, "", errManifestUnknown(repo, ref)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return v1.Hash{}, "", errInternal(err)
	}
	return h, types.MediaType(mt), nil
}

// get returns the manifest ref (a tag or digest) names in repo.
func (m *manifestStore) get(repo, ref string) (storedManifest, error) {
	m.mu.RLock()
	h, mt, err := m.resolve(repo, ref)
	m.mu.RUnlock()
	if err != nil {
		return storedManifest{}, err
	}
	rc, err := m.bodies.Get(context.Background(), repo, h)
	if err != nil {
		return storedManifest{}, errInternal(fmt.Errorf("manifest %s is indexed but its content is missing: %w", h, err))
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		return storedManifest{}, errInternal(err)
	}
	return storedManifest{Digest: h, MediaType: mt, Body: body}, nil
}

// put stores a manifest in repo under ref (a tag, or the manifest's own
// digest). mediaType may be empty when the body names its own. What the
// manifest refers to must already be stored: blobs for an image, the
// manifests for an index (in the same repository).
func (m *manifestStore) put(repo, ref string, mediaType types.MediaType, body []byte, blobs *blobStore) (v1.Hash, error) {
	if err := checkRepoName(repo); err != nil {
		return v1.Hash{}, err
	}
	if len(body) > maxManifestSize {
		return v1.Hash{}, regErr(http.StatusRequestEntityTooLarge, "SIZE_INVALID", "manifest is larger than %d bytes", maxManifestSize)
	}
	sum := sha256.Sum256(body)
	digest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	refIsDigest := false
	if h, err := v1.NewHash(ref); err == nil {
		if h != digest {
			return v1.Hash{}, regErr(http.StatusBadRequest, "DIGEST_INVALID", "manifest has digest %s, not %s", digest, ref)
		}
		refIsDigest = true
	} else if !tagRE.MatchString(ref) {
		return v1.Hash{}, errTagInvalid(ref)
	}
	mediaType, err := manifestMediaType(mediaType, body)
	if err != nil {
		return v1.Hash{}, err
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkReferences(repo, mediaType, body, blobs); err != nil {
		return v1.Hash{}, err
	}
	if _, err := m.bodies.putBytes(body); err != nil {
		return v1.Hash{}, errInternal(err)
	}
	r := &repository{Tags: map[string]string{}, Manifests: map[string]string{}}
	if old, ok := m.repos[repo]; ok {
		r = old.clone()
	}
	r.Manifests[digest.String()] = string(mediaType)
	if !refIsDigest {
		r.Tags[ref] = digest.String()
	}
	if err := m.save(repo, r); err != nil {
		return v1.Hash{}, errInternal(err)
	}
	return digest, nil
}

// tag points tag at a manifest repo already holds.
func (m *manifestStore) tag(repo, tag string, digest v1.Hash) error {
	if !tagRE.MatchString(tag) {
		return errTagInvalid(tag)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.repos[repo]
	if !ok || old.Manifests[digest.String()] == "" {
		return errManifestUnknown(repo, digest.String())
	}
	if old.Tags[tag] == digest.String() {
		return nil
	}
	r := old.clone()
	r.Tags[tag] = digest.String()
	if err := m.save(repo, r); err != nil {
		return errInternal(err)
	}
	return nil
}

// delete removes a tag, or a manifest (by digest) with every tag on it.
// Content stays on disk (there is no garbage collection).
func (m *manifestStore) delete(repo, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.repos[repo]
	if !ok {
		return errNameUnknown(repo)
	}
	r := old.clone()
	if _, isTag := r.Tags[ref]; isTag {
		delete(r.Tags, ref)
	} else if _, isManifest := r.Manifests[ref]; isManifest {
		delete(r.Manifests, ref)
		for t, d := range r.Tags {
			if d == ref {
				delete(r.Tags, t)
			}
		}
	} else {
		return errManifestUnknown(repo, ref)
	}
	if err := m.save(repo, r); err != nil {
		return errInternal(err)
	}
	return nil
}

// tags lists repo's tags, sorted.
func (m *manifestStore) tags(repo string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.repos[repo]
	if !ok {
		return nil, errNameUnknown(repo)
	}
	return slices.Sorted(maps.Keys(r.Tags)), nil
}

// repositories lists the repository names, sorted.
func (m *manifestStore) repositories() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.repos))
}

// tagged returns a copy of repo's tag -> digest map.
func (m *manifestStore) tagged(repo string) map[string]string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if r, ok := m.repos[repo]; ok {
		return maps.Clone(r.Tags)
	}
	return nil
}
