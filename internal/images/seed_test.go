package images

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestSeedServesEveryNameAtItsMirrorPath(t *testing.T) {
	tr := newTestRegistry(t)
	src := standInSources(t)
	if err := SeedFrom(context.Background(), tr.reg, src); err != nil {
		t.Fatal(err)
	}
	bs, err := BuildBuiltins(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		want := digestOf(t, b.Image)
		for _, n := range b.Names {
			repo, tag, _ := mirrorRef(n)
			if got := digestOf(t, tr.pull(repo+":"+tag)); got != want {
				t.Errorf("%s (at %s:%s) = %s, want %s", n, repo, tag, got, want)
			}
		}
	}

	// containerd asks a mirror like this for docker.io/library/busybox:1.36
	// and registry.k8s.io/pause:3.10.
	for _, path := range []string{"/v2/library/busybox/manifests/1.36?ns=docker.io", "/v2/pause/manifests/3.10?ns=registry.k8s.io",
		"/v2/e2e-test-images/agnhost/manifests/2.52?ns=registry.k8s.io"} {
		req, _ := http.NewRequest(http.MethodHead, tr.srv.URL+path, nil)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") == "" || resp.Header.Get("Content-Type") != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("HEAD %s = %d %v", path, resp.StatusCode, resp.Header)
		}
	}

	// The skiff layer is stored once though two images have it: 2 layers
	// and 3 configs in all.
	blobs, _ := filepath.Glob(filepath.Join(tr.dir, "blobs", "sha256", "*"))
	if len(blobs) != 5 {
		t.Errorf("%d blobs stored, want 5 (2 layers, 3 configs)", len(blobs))
	}
}

func TestSeedIsFastAndKeepsUserImages(t *testing.T) {
	tr := newTestRegistry(t)
	src := copiedSources(t)
	ctx := context.Background()
	start := time.Now()
	if err := SeedFrom(ctx, tr.reg, src); err != nil {
		t.Fatal(err)
	}
	t.Logf("first seed: %v", time.Since(start))
	pauseDigest := digestOf(t, tr.pull("pause:3.10"))
	busybox136 := digestOf(t, tr.pull("library/busybox:1.36"))

	// The user puts their own image under a built-in name and deletes
	// another built-in tag.
	mine, _ := random.Image(256, 1)
	if err := remote.Write(tr.ref("library/busybox:latest"), mine); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(tr.ref("skiff/pause:latest")); err != nil {
		t.Fatal(err)
	}

	// A restart with the same binaries: no rebuild, missing tag restored,
	// the user's image kept.
	tr.restart()
	start = time.Now()
	if err := SeedFrom(ctx, tr.reg, src); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("seed with nothing to build: %v", took)
	if took > 500*time.Millisecond {
		t.Errorf("seeding with nothing to build took %v", took)
	}
	if got := digestOf(t, tr.pull("skiff/pause:latest")); got != pauseDigest {
		t.Errorf("skiff/pause:latest = %s, want the restored %s", got, pauseDigest)
	}
	if got := digestOf(t, tr.pull("library/busybox:latest")); got != digestOf(t, mine) {
		t.Errorf("library/busybox:latest = %s, want the user's image", got)
	}

	// A new skiff binary: the images built from it move, busybox stays.
	f, err := os.OpenFile(src.Executable, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new build"))
	f.Close()
	if err := SeedFrom(ctx, tr.reg, src); err != nil {
		t.Fatal(err)
	}
	if got := digestOf(t, tr.pull("pause:3.10")); got == pauseDigest {
		t.Error("pause:3.10 still has the old binary")
	}
	if got := digestOf(t, tr.pull("library/busybox:1.36")); got != busybox136 {
		t.Errorf("busybox:1.36 changed with the skiff binary: %s, was %s", got, busybox136)
	}
	if got := digestOf(t, tr.pull("library/busybox:latest")); got != digestOf(t, mine) {
		t.Errorf("library/busybox:latest = %s after a rebuild, want the user's image", got)
	}
}

func TestSeedNeedsAStaticExecutable(t *testing.T) {
	tr := newTestRegistry(t)
	script := filepath.Join(t.TempDir(), "skiff")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	requireBusybox(t)
	if err := SeedFrom(context.Background(), tr.reg, Sources{Executable: script, Busybox: hostBusybox}); err == nil {
		t.Error("SeedFrom with a script as skiff succeeded")
	}
	if err := SeedFrom(context.Background(), tr.reg, Sources{Executable: "/nonexistent", Busybox: hostBusybox}); err == nil {
		t.Error("SeedFrom with a missing executable succeeded")
	}
}

func TestSeedRebuildsWhatWasLost(t *testing.T) {
	tr := newTestRegistry(t)
	src := standInSources(t)
	if err := SeedFrom(context.Background(), tr.reg, src); err != nil {
		t.Fatal(err)
	}
	blobs, _ := filepath.Glob(filepath.Join(tr.dir, "blobs", "sha256", "*"))
	for _, b := range blobs {
		os.Remove(b)
	}
	tr.restart()
	if err := SeedFrom(context.Background(), tr.reg, src); err != nil {
		t.Fatal(err)
	}
	tr.pull("library/busybox:1.36")
	tr.pull("e2e-test-images/agnhost:2.52")
}
