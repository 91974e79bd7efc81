package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// recipeVersion changes whenever BuildBuiltins would build different
// images from the same files, so Seed rebuilds them.
const recipeVersion = "1"

// seedRecord is what Seed remembers in the registry directory between
// starts.
type seedRecord struct {
	// Fingerprint identifies the recipe and the source files (by path,
	// size, modification time and inode) the images were built from.
	Fingerprint string `json:"fingerprint"`
	// Digests maps each built-in name ("repo:tag") to the manifest Seed
	// built for it.
	Digests map[string]string `json:"digests"`
}

const seedFile = "seed.json"

// Seed makes the built-in images (BuildBuiltins of DefaultSources) pullable
// from reg under all their names. See SeedFrom.
func Seed(ctx context.Context, reg *Registry) error {
	src, err := DefaultSources()
	if err != nil {
		return err
	}
	return SeedFrom(ctx, reg, src)
}

// SeedFrom makes the images built from src pullable from reg under all
// their names. It builds them only when src or the recipe changed since the
// last seed (building reads and hashes the ~70 MB skiff binary: well under
// a second on an idle machine); otherwise it only checks that the images
// are whole and restores missing tags, which takes about a millisecond.
//
// A name the user has since pointed at another image (by pushing or
// importing it) is left alone: Seed moves only tags that still point where
// it last put them, or that are missing.
func SeedFrom(ctx context.Context, reg *Registry, src Sources) error {
	start := time.Now()
	fp, err := fingerprint(src)
	if err != nil {
		return err
	}
	prev := readSeedRecord(filepath.Join(reg.dir, seedFile))
	if prev.Fingerprint == fp && reg.applySeed(prev, prev) == nil {
		reg.log.Debug("built-in images up to date", "took", time.Since(start))
		return nil
	}
	builtins, err := BuildBuiltins(src)
	if err != nil {
		return fmt.Errorf("building the built-in images: %w", err)
	}
	next := seedRecord{Fingerprint: fp, Digests: map[string]string{}}
	for _, b := range builtins {
		for _, n := range b.Names {
			repo, tag, err := mirrorRef(n)
			if err != nil {
				return err
			}
			d, err := reg.pushImage(ctx, repo, b.Image)
			if err != nil {
				return fmt.Errorf("storing %s: %w", n, err)
			}
			next.Digests[repo+":"+tag] = d.String()
		}
	}
	if err := reg.applySeed(prev, next); err != nil {
		return err
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(reg.dir, seedFile), b); err != nil {
		return fmt.Errorf("saving the seed record: %w", err)
	}
	reg.log.Info("built the built-in images", "took", time.Since(start))
	return nil
}

// applySeed points each name of next at its digest unless the user has
// moved it away from where prev put it. It fails if a manifest of next is
// not stored (the caller then rebuilds).
func (r *Registry) applySeed(prev, next seedRecord) error {
	if len(next.Digests) == 0 {
		return errors.New("nothing seeded yet")
	}
	for key, digest := range next.Digests {
		repo, tag, err := splitRepoTag(key)
		if err != nil {
			return err
		}
		h, err := v1.NewHash(digest)
		if err != nil {
			return err
		}
		if err := r.whole(repo, digest); err != nil {
			return err
		}
		cur, _, err := r.resolve(repo, tag)
		if err == nil && cur.String() != prev.Digests[key] && cur != h {
			r.log.Info("keeping the image the user put under a built-in name", "image", key, "digest", cur)
			continue
		}
		if err := r.tag(repo, tag, h); err != nil {
			return err
		}
	}
	return nil
}

// whole checks that repo holds the image manifest digest and its blobs.
func (r *Registry) whole(repo, digest string) error {
	m, err := r.manifests.get(repo, digest)
	if err != nil {
		return err
	}
	mf, err := v1.ParseManifest(bytes.NewReader(m.Body))
	if err != nil {
		return err
	}
	for _, d := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
		if !r.blobs.has(d.Digest) {
			return fmt.Errorf("%s@%s lacks blob %s", repo, digest, d.Digest)
		}
	}
	return nil
}

func (r *Registry) resolve(repo, ref string) (v1.Hash, string, error) {
	r.manifests.mu.RLock()
	defer r.manifests.mu.RUnlock()
	h, mt, err := r.manifests.resolve(repo, ref)
	return h, string(mt), err
}

// splitRepoTag splits "repo:tag" at its last colon.
func splitRepoTag(s string) (repo, tag string, err error) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[:i], s[i+1:], nil
		}
		if s[i] == '/' {
			break
		}
	}
	return "", "", fmt.Errorf("%q is not repository:tag", s)
}

func readSeedRecord(path string) seedRecord {
	var rec seedRecord
	b, err := os.ReadFile(path)
	if err != nil {
		return rec
	}
	if json.Unmarshal(b, &rec) != nil {
		return seedRecord{}
	}
	return rec
}

// fingerprint identifies src's files cheaply (without reading them): a
// new skiff or busybox binary has a new inode, size or modification time.
func fingerprint(src Sources) (string, error) {
	fp := "recipe=" + recipeVersion
	for _, p := range []string{src.Executable, src.Busybox} {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return "", fmt.Errorf("built-in image source: %w", err)
		}
		var ino, dev uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino, dev = st.Ino, uint64(st.Dev)
		}
		fp += fmt.Sprintf(";%s:%d:%d:%d:%d", abs, fi.Size(), fi.ModTime().UnixNano(), ino, dev)
	}
	return fp, nil
}
