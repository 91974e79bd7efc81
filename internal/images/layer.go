package images

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// builtinTime is the timestamp of every file and image skiff builds, so
// the same inputs always give the same digests.
var builtinTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// layerFile is one entry of a built layer.
type layerFile struct {
	Path     string // relative to the root, without a leading slash
	Type     byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	Mode     int64  // permission bits, including setuid/setgid/sticky
	Linkname string // symlink target
	Source   string // regular file: host file to copy (if Data is nil)
	Data     []byte // regular file: content
}

func dirEntry(p string, mode int64) layerFile {
	return layerFile{Path: p, Type: tar.TypeDir, Mode: mode}
}

func symlinkEntry(p, target string) layerFile {
	return layerFile{Path: p, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target}
}

func fileEntry(p string, mode int64, data []byte) layerFile {
	return layerFile{Path: p, Type: tar.TypeReg, Mode: mode, Data: data}
}

func hostFileEntry(p string, mode int64, source string) layerFile {
	return layerFile{Path: p, Type: tar.TypeReg, Mode: mode, Source: source}
}

// builtLayer is a layer skiff builds from files on the host. It is an
// uncompressed tar: built-in images travel only over loopback or the node
// network to containerd, and compressing the ~70 MB skiff binary would add
// seconds to the first start of every new build. The tar is generated
// again from the files each time it is read, so the layer costs no memory;
// a file that changed since buildLayer fails the digest check when the
// layer is stored.
type builtLayer struct {
	files  []layerFile
	digest v1.Hash
	size   int64
}

var _ v1.Layer = (*builtLayer)(nil)

func (l *builtLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *builtLayer) DiffID() (v1.Hash, error) { return l.digest, nil }
func (l *builtLayer) Size() (int64, error)     { return l.size, nil }
func (l *builtLayer) MediaType() (types.MediaType, error) {
	return types.OCIUncompressedLayer, nil
}
func (l *builtLayer) Compressed() (io.ReadCloser, error) { return l.Uncompressed() }
func (l *builtLayer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := writeTar(pw, l.files)
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// buildLayer describes files as a reproducible layer: sorted paths,
// missing parent directories added (0755), owner root, fixed timestamps.
// It reads the files once to compute the digest.
func buildLayer(files []layerFile) (*builtLayer, error) {
	files = withParents(files)
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("layer lists /%s twice", files[i].Path)
		}
	}
	h := sha256.New()
	size, err := writeTar(h, files)
	if err != nil {
		return nil, err
	}
	return &builtLayer{
		files:  files,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		size:   size,
	}, nil
}

// writeTar writes files as a tar stream to w and returns its length.
func writeTar(w io.Writer, files []layerFile) (int64, error) {
	cw := &countingWriter{w: w}
	tw := tar.NewWriter(cw)
	for _, f := range files {
		if err := writeEntry(tw, f); err != nil {
			return 0, fmt.Errorf("layer entry /%s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// withParents sorts files by path and adds directories that are implied
// but not listed.
func withParents(files []layerFile) []layerFile {
	have := map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	out := append([]layerFile(nil), files...)
	for _, f := range files {
		for d := path.Dir(f.Path); d != "." && d != "/" && !have[d]; d = path.Dir(d) {
			have[d] = true
			out = append(out, dirEntry(d, 0o755))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func writeEntry(tw *tar.Writer, f layerFile) error {
	hdr := &tar.Header{
		Typeflag: f.Type,
		Name:     f.Path,
		Mode:     f.Mode,
		ModTime:  builtinTime,
		Linkname: f.Linkname,
		Format:   tar.FormatPAX,
	}
	switch f.Type {
	case tar.TypeDir:
		hdr.Name += "/"
		return tw.WriteHeader(hdr)
	case tar.TypeSymlink:
		return tw.WriteHeader(hdr)
	case tar.TypeReg:
	default:
		return fmt.Errorf("unsupported entry type %q", f.Type)
	}
	if f.Data != nil || f.Source == "" {
		hdr.Size = int64(len(f.Data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(f.Data)
		return err
	}
	src, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", f.Source)
	}
	hdr.Size = fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, src, hdr.Size); err != nil {
		return fmt.Errorf("copying %s (did it change while being read?): %w", f.Source, err)
	}
	return nil
}
