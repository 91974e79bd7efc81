package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const hostBusybox = "/bin/busybox"

// requireBusybox skips tests on machines without Debian's busybox-static.
func requireBusybox(t testing.TB) {
	t.Helper()
	if _, err := staticArch(hostBusybox); err != nil {
		t.Skipf("needs a static busybox at %s (Debian busybox-static): %v", hostBusybox, err)
	}
}

// standInSources uses busybox as the "skiff" payload too: any static
// executable does for tests that only look at the images.
func standInSources(t testing.TB) Sources {
	requireBusybox(t)
	return Sources{Executable: hostBusybox, Busybox: hostBusybox}
}

// copiedSources copies busybox into a temp dir as the "skiff" payload, so
// tests can change it.
func copiedSources(t testing.TB) Sources {
	requireBusybox(t)
	b, err := os.ReadFile(hostBusybox)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "skiff")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return Sources{Executable: exe, Busybox: hostBusybox}
}

var (
	multicallOnce sync.Once
	multicallPath string
	multicallErr  error
)

// multicallBinary builds testdata/multicall statically, once per test
// binary: a real stand-in for skiff that runs pause and the test server.
func multicallBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary; skipped in -short mode")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool to build a static stand-in for skiff")
	}
	multicallOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-multicall-")
		if err != nil {
			multicallErr = err
			return
		}
		multicallPath = filepath.Join(dir, "skiff")
		cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", multicallPath, "./testdata/multicall")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			multicallErr = err
			multicallPath = string(out)
		}
	})
	if multicallErr != nil {
		t.Fatalf("building testdata/multicall: %v\n%s", multicallErr, multicallPath)
	}
	return multicallPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if multicallPath != "" && multicallErr == nil {
		os.RemoveAll(filepath.Dir(multicallPath))
	}
	os.Exit(code)
}

// layerEntry is a file of a layer as the tests look at it.
type layerEntry struct {
	typ      byte
	mode     int64
	linkname string
	size     int64
	uid, gid int
	data     []byte // regular files under 4 KiB
}

// readLayer lists a layer's entries by path (without a trailing slash).
func readLayer(t *testing.T, l v1.Layer) map[string]layerEntry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]layerEntry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		e := layerEntry{typ: hdr.Typeflag, mode: hdr.Mode, linkname: hdr.Linkname, size: hdr.Size, uid: hdr.Uid, gid: hdr.Gid}
		if hdr.Typeflag == tar.TypeReg && hdr.Size < 4096 {
			e.data, _ = io.ReadAll(tr)
		}
		out[strings.TrimSuffix(hdr.Name, "/")] = e
	}
}

// extractImage unpacks an image's layers in order into dir (enough for
// the files these images have: directories, regular files, symlinks).
func extractImage(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, filepath.FromSlash(path.Clean(hdr.Name)))
			switch hdr.Typeflag {
			case tar.TypeDir:
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, os.FileMode(hdr.Mode&0o777)|modeBits(hdr.Mode)); err != nil {
					t.Fatal(err)
				}
			case tar.TypeSymlink:
				os.Remove(p)
				if err := os.Symlink(hdr.Linkname, p); err != nil {
					t.Fatal(err)
				}
			case tar.TypeReg:
				f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, os.FileMode(hdr.Mode&0o777))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(f, tr); err != nil {
					t.Fatal(err)
				}
				f.Close()
			default:
				t.Fatalf("unexpected entry type %q for %s", hdr.Typeflag, hdr.Name)
			}
		}
		rc.Close()
	}
}

func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

// checkImage reads all of an image and checks it against its digests,
// like go-containerregistry's validate.Image, which assumes gzip layers
// and so cannot check the built-in images' uncompressed ones.
func checkImage(t testing.TB, img v1.Image) error {
	t.Helper()
	sum := func(rc io.ReadCloser, err error) (v1.Hash, int64, error) {
		if err != nil {
			return v1.Hash{}, 0, err
		}
		defer rc.Close()
		return v1.SHA256(rc)
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if h, n, _ := v1.SHA256(bytes.NewReader(cfg)); h != m.Config.Digest || n != m.Config.Size {
		return fmt.Errorf("config is %s (%d bytes), manifest says %s (%d)", h, n, m.Config.Digest, m.Config.Size)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	if len(layers) != len(m.Layers) || len(layers) != len(cf.RootFS.DiffIDs) {
		return fmt.Errorf("%d layers, %d in the manifest, %d diff IDs", len(layers), len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	for i, l := range layers {
		h, n, err := sum(l.Compressed())
		if err != nil {
			return err
		}
		if h != m.Layers[i].Digest || n != m.Layers[i].Size {
			return fmt.Errorf("layer %d is %s (%d bytes), manifest says %s (%d)", i, h, n, m.Layers[i].Digest, m.Layers[i].Size)
		}
		h, _, err = sum(l.Uncompressed())
		if err != nil {
			return err
		}
		if h != cf.RootFS.DiffIDs[i] {
			return fmt.Errorf("layer %d uncompressed is %s, config says %s", i, h, cf.RootFS.DiffIDs[i])
		}
	}
	return nil
}
