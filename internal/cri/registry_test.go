package cri_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// This file stands in for internal/images in these tests: an in-memory
// OCI registry on loopback holding a busybox image made from the host's
// static busybox, as docker.io/library/busybox:1.36, and a pause image
// made from the same layer, as registry.k8s.io/pause:3.10. containerd is
// pointed at it as its mirror, so the tests also prove mirror pulls work.

// testImage and testPauseImage are the references pods use.
const (
	testImage      = "busybox:1.36"
	testPauseImage = "registry.k8s.io/pause:3.10"
)

// startRegistry serves the test images and returns the registry's URL.
func startRegistry(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static /bin/busybox (Debian busybox-static) to build the test image")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	layer, diffID := busyboxLayer(t)
	// Pod images are pulled by their docker.io path; the pause image by
	// its registry.k8s.io one (the mirror serves every registry's paths).
	pushImage(t, base, "library/busybox", "1.36", layer, diffID, map[string]any{
		"Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		"Cmd": []string{"sh"},
	})
	// busybox sleep as PID 1 ignores SIGTERM, as pause sleeps until
	// killed; the runtime stops sandboxes with SIGKILL.
	pushImage(t, base, "pause", "3.10", layer, diffID, map[string]any{
		"Entrypoint": []string{"/bin/sleep", "2147483647"},
	})
	return base
}

// busyboxLayer returns a gzipped layer with /bin/busybox and a symlink
// per applet, and its uncompressed digest.
func busyboxLayer(t *testing.T) ([]byte, string) {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, dir := range []string{"bin/", "dev/", "etc/", "proc/", "root/", "sys/", "tmp/", "work/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777
		}
		must(t, tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: mode}))
	}
	must(t, tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))}))
	_, err = tw.Write(bin)
	must(t, err)
	for _, f := range []struct{ name, content string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"},
		{"etc/group", "root:x:0:\n"},
	} {
		must(t, tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.content))}))
		_, err = tw.Write([]byte(f.content))
		must(t, err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" {
			continue
		}
		must(t, tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}))
	}
	must(t, tw.Close())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(raw.Bytes())
	must(t, err)
	must(t, zw.Close())
	return gz.Bytes(), digest(raw.Bytes())
}

// pushImage uploads a one-layer OCI image as repo:tag.
func pushImage(t *testing.T, base, repo, tag string, layer []byte, diffID string, config map[string]any) {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       config,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	must(t, err)
	pushBlob(t, base, repo, layer)
	pushBlob(t, base, repo, cfg)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor("application/vnd.oci.image.config.v1+json", cfg),
		"layers":        []any{descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)},
	})
	must(t, err)
	req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v2/%s/manifests/%s", base, repo, tag), bytes.NewReader(manifest))
	must(t, err)
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	send(t, req, http.StatusCreated)
}

func pushBlob(t *testing.T, base, repo string, blob []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v2/%s/blobs/uploads/?digest=%s", base, repo, digest(blob)), bytes.NewReader(blob))
	must(t, err)
	send(t, req, http.StatusCreated)
}

func send(t *testing.T, req *http.Request, want int) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s", req.Method, req.URL, resp.Status, body)
	}
}

func descriptor(mediaType string, blob []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": digest(blob), "size": len(blob)}
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
