package images

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is a Registry on disk served by an httptest server; restart
// reopens it from the same directory behind a new server.
type testRegistry struct {
	t   *testing.T
	dir string
	reg *Registry
	srv *httptest.Server
}

func newTestRegistry(t *testing.T) *testRegistry {
	tr := &testRegistry{t: t, dir: t.TempDir()}
	tr.open()
	t.Cleanup(func() { tr.srv.Close() })
	return tr
}

func (tr *testRegistry) open() {
	reg, err := OpenRegistry(RegistryConfig{Dir: tr.dir})
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.reg = reg
	tr.srv = httptest.NewServer(reg)
}

func (tr *testRegistry) restart() {
	tr.srv.Close()
	tr.open()
}

// host is the registry's host:port, as image names use it.
func (tr *testRegistry) host() string { return strings.TrimPrefix(tr.srv.URL, "http://") }

func (tr *testRegistry) ref(s string) name.Reference {
	tr.t.Helper()
	r, err := name.ParseReference(tr.host()+"/"+s, name.Insecure)
	if err != nil {
		tr.t.Fatal(err)
	}
	return r
}

// pull fetches an image with go-containerregistry's client and checks all
// of its content against its digests.
func (tr *testRegistry) pull(s string) v1.Image {
	tr.t.Helper()
	img, err := remote.Image(tr.ref(s))
	if err != nil {
		tr.t.Fatalf("pull %s: %v", s, err)
	}
	if err := checkImage(tr.t, img); err != nil {
		tr.t.Fatalf("pulled %s is not valid: %v", s, err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRegistryRoundTripSurvivesRestart(t *testing.T) {
	tr := newTestRegistry(t)
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := digestOf(t, img)
	if err := remote.Write(tr.ref("team/app:v1"), img); err != nil {
		t.Fatalf("push: %v", err)
	}
	check := func() {
		t.Helper()
		if got := digestOf(t, tr.pull("team/app:v1")); got != want {
			t.Errorf("pulled by tag %s, pushed %s", got, want)
		}
		if got := digestOf(t, tr.pull("team/app@"+want.String())); got != want {
			t.Errorf("pulled by digest %s, pushed %s", got, want)
		}
		tags, err := remote.List(tr.ref("team/app:v1").Context())
		if err != nil || !slices.Equal(tags, []string{"v1"}) {
			t.Errorf("tags = %v, %v", tags, err)
		}
		repos, err := remote.Catalog(context.Background(), tr.ref("x").Context().Registry)
		if err != nil || !slices.Equal(repos, []string{"team/app"}) {
			t.Errorf("catalog = %v, %v", repos, err)
		}
	}
	check()
	tr.restart()
	check()

	// An index with its images, pushed and pulled whole.
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tr.ref("team/multi:v1"), idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	tr.restart()
	got, err := remote.Index(tr.ref("team/multi:v1"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := got.IndexManifest()
	if err != nil || len(im.Manifests) != 2 {
		t.Fatalf("pulled index: %v, %v", im, err)
	}
	for _, d := range im.Manifests {
		child, err := got.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkImage(t, child); err != nil {
			t.Errorf("image %s of the pulled index: %v", d.Digest, err)
		}
	}
}

func TestRegistryDeletes(t *testing.T) {
	tr := newTestRegistry(t)
	img, _ := random.Image(100, 1)
	for _, tag := range []string{"a", "b"} {
		if err := remote.Write(tr.ref("r:"+tag), img); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Delete(tr.ref("r:a")); err != nil {
		t.Fatalf("delete tag: %v", err)
	}
	tr.restart()
	if _, err := remote.Image(tr.ref("r:a")); err == nil {
		t.Error("deleted tag a still pulls")
	}
	tr.pull("r:b")
	if err := remote.Delete(tr.ref("r@" + digestOf(t, img).String())); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}
	if _, err := remote.Image(tr.ref("r:b")); err == nil {
		t.Error("tag b survives the deletion of its manifest")
	}
}

// do sends a raw request to the registry and decodes an error answer.
func (tr *testRegistry) do(method, path, contentType string, body []byte) (int, string) {
	tr.t.Helper()
	req, _ := http.NewRequest(method, tr.srv.URL+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
		return resp.StatusCode, e.Errors[0].Code
	}
	return resp.StatusCode, ""
}

func TestRegistryRejectsBadRequests(t *testing.T) {
	tr := newTestRegistry(t)
	img, _ := random.Image(100, 1)
	raw, _ := img.RawManifest()
	const oci = "application/vnd.oci.image.manifest.v1+json"
	cases := []struct {
		method, path, ctype string
		body                []byte
		status              int
		code                string
	}{
		{"GET", "/v2/nothing/manifests/latest", "", nil, 404, "NAME_UNKNOWN"},
		{"PUT", "/v2/r/manifests/v1", oci, raw, 400, "MANIFEST_BLOB_UNKNOWN"}, // blobs not uploaded
		{"PUT", "/v2/r/manifests/v1", oci, []byte("{not json"), 400, "MANIFEST_INVALID"},
		{"PUT", "/v2/r/manifests/v1", "text/plain", []byte(`{"schemaVersion":2}`), 400, "MANIFEST_INVALID"},
		{"PUT", "/v2/r/manifests/sha256:" + strings.Repeat("0", 64), oci, raw, 400, "DIGEST_INVALID"},
		{"PUT", "/v2/Upper/manifests/v1", oci, raw, 400, "NAME_INVALID"},
		{"PUT", "/v2/r/manifests/-bad-tag", oci, raw, 400, "TAG_INVALID"},
		{"PUT", "/v2/r/manifests/v1", oci, bytes.Repeat([]byte(" "), maxManifestSize+1), 413, "SIZE_INVALID"},
		{"POST", "/v2/r/manifests/v1", "", nil, 405, "UNSUPPORTED"},
		{"GET", "/v2/r/tags/other", "", nil, 404, "NOT_FOUND"},
		{"GET", "/v2/nothing/tags/list", "", nil, 404, "NAME_UNKNOWN"},
		{"GET", "/v2/_catalog?n=x", "", nil, 400, "PAGINATION_NUMBER_INVALID"},
		{"GET", "/elsewhere", "", nil, 404, "NOT_FOUND"},
		{"GET", "/v2/r/blobs/sha256:" + strings.Repeat("0", 64), "", nil, 404, "BLOB_UNKNOWN"},
		{"GET", "/v2/", "", nil, 200, ""},
	}
	for _, c := range cases {
		status, code := tr.do(c.method, c.path, c.ctype, c.body)
		if status != c.status || code != c.code {
			t.Errorf("%s %s = %d %s, want %d %s", c.method, c.path, status, code, c.status, c.code)
		}
	}
}

func TestRegistryCorruptIndexIsAnError(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenRegistry(RegistryConfig{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(dir+"/index.json", []byte("{garbage")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRegistry(RegistryConfig{Dir: dir}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("OpenRegistry on a corrupt index: %v", err)
	}
	if _, err := OpenRegistry(RegistryConfig{}); err == nil {
		t.Error("OpenRegistry without a directory succeeded")
	}
}

func TestMirrorRef(t *testing.T) {
	for in, want := range map[string][2]string{
		"busybox:1.36":                    {"library/busybox", "1.36"},
		"docker.io/library/busybox":       {"library/busybox", "latest"},
		"registry.k8s.io/pause:3.10":      {"pause", "3.10"},
		"ghcr.io/org/app:v2":              {"org/app", "v2"},
		"quay.io/org/app@sha256:" + zeros: {"org/app", "sha256:" + zeros},
		"skiff/testserver:latest":         {"skiff/testserver", "latest"},
	} {
		repo, ref, err := mirrorRef(in)
		if err != nil || repo != want[0] || ref != want[1] {
			t.Errorf("mirrorRef(%q) = %q %q %v, want %q %q", in, repo, ref, err, want[0], want[1])
		}
	}
	if _, _, err := mirrorRef("Bad Name"); err == nil {
		t.Error("mirrorRef accepted a bad name")
	}
}

var zeros = strings.Repeat("0", 64)

func TestRegistryServeStopsWithContext(t *testing.T) {
	reg, err := OpenRegistry(RegistryConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- reg.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("GET /v2/ = %d %v", resp.StatusCode, resp.Header)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/v2/"); err == nil {
		t.Error("the listener still answers after Serve returned")
	}
}

func TestRegistryCatalogPages(t *testing.T) {
	tr := newTestRegistry(t)
	img, _ := random.Image(10, 1)
	for _, r := range []string{"c", "a", "b/x", "d"} {
		if err := remote.Write(tr.ref(r+":1"), img); err != nil {
			t.Fatal(err)
		}
	}
	for query, want := range map[string]string{
		"":              `{"repositories":["a","b/x","c","d"]}`,
		"?n=2":          `{"repositories":["a","b/x"]}`,
		"?n=2&last=b/x": `{"repositories":["c","d"]}`,
		"?last=d":       `{"repositories":[]}`,
	} {
		resp, err := http.Get(tr.srv.URL + "/v2/_catalog" + query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("catalog%s = %s, want %s", query, b, want)
		}
	}
}
