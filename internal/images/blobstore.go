package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobStore keeps content-addressed files under dir/<algorithm>/<hex>. A
// file appears there only complete and with the right digest (written to a
// temporary file, verified, then renamed), so Stat can trust the file's
// size without hashing it again. Blobs are shared by all repositories.
type blobStore struct {
	dir string
}

var (
	_ registry.BlobHandler       = (*blobStore)(nil)
	_ registry.BlobStatHandler   = (*blobStore)(nil)
	_ registry.BlobPutHandler    = (*blobStore)(nil)
	_ registry.BlobDeleteHandler = (*blobStore)(nil)
)

const uploadPrefix = ".upload-"

func openBlobStore(dir string) (*blobStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o755); err != nil {
		return nil, err
	}
	// Uploads cut short by a crash leave temporary files; nothing refers
	// to them.
	leftovers, _ := filepath.Glob(filepath.Join(dir, "sha256", uploadPrefix+"*"))
	for _, f := range leftovers {
		_ = os.Remove(f)
	}
	return &blobStore{dir: dir}, nil
}

func (s *blobStore) path(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.Trim(h.Hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: unsupported digest %q", registry.ErrNotFound, h)
	}
	return filepath.Join(s.dir, h.Algorithm, h.Hex), nil
}

// Stat returns the blob's size, or registry.ErrNotFound.
func (s *blobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	p, err := s.path(h)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Get opens the blob (an *os.File, so range requests work), or returns
// registry.ErrNotFound.
func (s *blobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	p, err := s.path(h)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

// Put stores rc's content under h, checking that it hashes to h. The
// registry's upload handler also wraps rc in its own verifier, whose error
// is returned unchanged.
func (s *blobStore) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	p, err := s.path(h)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), uploadPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	var hasher hash.Hash = sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, hasher), rc); err != nil {
		f.Close()
		return err
	}
	if got := hex.EncodeToString(hasher.Sum(nil)); got != h.Hex {
		f.Close()
		return fmt.Errorf("blob content has digest sha256:%s, not %s", got, h)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// Delete removes the blob, or returns registry.ErrNotFound.
func (s *blobStore) Delete(_ context.Context, _ string, h v1.Hash) error {
	p, err := s.path(h)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, os.ErrNotExist) {
		return registry.ErrNotFound
	}
	return err
}

// has reports whether the blob is stored.
func (s *blobStore) has(h v1.Hash) bool {
	_, err := s.Stat(context.Background(), "", h)
	return err == nil
}

// putBytes stores b unless it is already there, and returns its digest.
func (s *blobStore) putBytes(b []byte) (v1.Hash, error) {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if s.has(h) {
		return h, nil
	}
	return h, s.Put(context.Background(), "", h, io.NopCloser(bytes.NewReader(b)))
}
