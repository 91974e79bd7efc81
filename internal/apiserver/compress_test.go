package apiserver

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                     false,
		"gzip":                 true, // Go's HTTP client
		"GZIP":                 true,
		"deflate, gzip;q=0.5":  true,
		"gzip;q=0":             false,
		"gzip; q=0.0, deflate": false,
		"identity":             false,
		"*":                    true,
		"*;q=0":                false,
		"br, gzip ; q=1":       true,
		"x-gzip":               false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestCompressionDisabledFor(t *testing.T) {
	s := &Server{cfg: Config{DisableCompressionFor: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.1.0.0/16")}}}
	req := func(remote string, header ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
		r.RemoteAddr = remote
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"loopback", req("127.0.0.1:5555"), true},
		{"IPv6 loopback", req("[::1]:5555"), true},
		{"an IPv4 client on a dual-stack socket", req("[::ffff:127.0.0.2]:80"), true},
		{"in a listed network", req("10.1.200.3:443"), true},
		{"outside them", req("10.2.0.1:443"), false},
		{"IPv6 outside them", req("[2001:db8::1]:443"), false},
		{"a peer without a port", req("10.1.0.9"), true},
		{"not an address", req("not an address"), false},
		// Behind a proxy the client is the first valid address the
		// proxies forwarded, whatever the peer (the proxy) is.
		{"forwarded from outside by a local proxy", req("127.0.0.1:5555", "X-Forwarded-For", "192.0.2.7, 127.0.0.1"), false},
		{"forwarded from a listed network", req("192.0.2.1:5555", "X-Forwarded-For", "10.1.3.4"), true},
		{"forwarded, first entry invalid", req("192.0.2.1:5555", "X-Forwarded-For", "unknown, 10.1.3.4 , 192.0.2.9"), true},
		{"forwarded, leading zeros as upstream parses them", req("192.0.2.1:5555", "X-Forwarded-For", "010.001.000.001"), true},
		{"forwarded, nothing valid: X-Real-Ip", req("192.0.2.1:5555", "X-Forwarded-For", "unknown", "X-Real-Ip", "10.1.0.1"), true},
		{"X-Real-Ip alone", req("192.0.2.1:5555", "X-Real-IP", "::1"), true},
		{"X-Real-Ip from outside", req("127.0.0.1:5555", "X-Real-Ip", "192.0.2.7"), false},
		{"neither header valid: the peer", req("10.1.0.1:5555", "X-Forwarded-For", "garbage", "X-Real-Ip", "also garbage"), true},
	} {
		if got := s.compressionDisabledFor(c.r); got != c.want {
			t.Errorf("%s: compressionDisabledFor = %v, want %v", c.name, got, c.want)
		}
	}
	if (&Server{}).compressionDisabledFor(req("127.0.0.1:1")) {
		t.Error("with no networks configured, every client gets gzip")
	}
	// The check runs for every response: without forwarding headers it
	// allocates nothing.
	r := req("10.1.200.3:443")
	if n := testing.AllocsPerRun(100, func() { s.compressionDisabledFor(r) }); n != 0 {
		t.Errorf("compressionDisabledFor allocates %v times per request, want 0", n)
	}
}

// respond runs the way an encoder writes a response through compressing:
// headers, the status, then the body in writes of the given sizes.
func respond(t *testing.T, code int, contentLength bool, writes ...int) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	s := &Server{}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	w, done := s.compressing(rec, r)
	if _, ok := w.(*gzipResponse); !ok {
		t.Fatalf("a request that accepts gzip got %T", w)
	}
	var body []byte
	for i, n := range writes {
		body = append(body, bytes.Repeat([]byte{byte('a' + i)}, n)...)
	}
	w.Header().Set("Content-Type", "application/json")
	if contentLength {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(code)
	off := 0
	for _, n := range writes {
		if k, err := w.Write(body[off : off+n]); err != nil || k != n {
			t.Fatalf("write of %d: %d, %v", n, k, err)
		}
		off += n
	}
	// A nested call (an error written while a response is being
	// prepared) does not wrap again.
	if inner, _ := s.compressing(w, r); inner != w {
		t.Fatal("compressing wrapped its own writer")
	}
	if rec.Body.Len() > 0 && len(body) <= gzipThreshold {
		t.Fatal("a small response was sent before it ended")
	}
	done()
	return rec, body
}

func TestGzipResponse(t *testing.T) {
	t.Run("small", func(t *testing.T) {
		rec, body := respond(t, http.StatusCreated, true, 100, 2000)
		if rec.Code != http.StatusCreated || rec.Header().Get("Content-Encoding") != "" ||
			rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) || !bytes.Equal(rec.Body.Bytes(), body) {
			t.Fatalf("small response: %d %v, %d bytes", rec.Code, rec.Header(), rec.Body.Len())
		}
	})
	t.Run("exactly the threshold", func(t *testing.T) {
		rec, body := respond(t, http.StatusOK, false, gzipThreshold)
		if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), body) {
			t.Fatalf("a response of exactly %d bytes was compressed", gzipThreshold)
		}
	})
	for name, writes := range map[string][]int{
		"one large write":  {gzipThreshold + 1},
		"streamed in 64 K": {64 << 10, 64 << 10, 64 << 10, 10},
		"small then large": {7, 1 << 20},
	} {
		t.Run(name, func(t *testing.T) {
			rec, body := respond(t, http.StatusOK, true, writes...)
			h := rec.Header()
			if rec.Code != http.StatusOK || h.Get("Content-Encoding") != "gzip" || h.Get("Vary") != "Accept-Encoding" ||
				h.Get("Content-Length") != "" || h.Get("Content-Type") != "application/json" {
				t.Fatalf("large response: %d %v", rec.Code, h)
			}
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain, body) {
				t.Fatalf("unzipped %d bytes, want the %d written", len(plain), len(body))
			}
			if rec.Body.Len() != 0 {
				t.Fatalf("%d bytes after the gzip stream", rec.Body.Len())
			}
		})
	}
}

func TestCompressingPassesThrough(t *testing.T) {
	s := &Server{cfg: Config{DisableCompressionFor: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	for name, r := range map[string]*http.Request{
		"no Accept-Encoding": httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil),
		"exempt client": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
			r.Header.Set("Accept-Encoding", "gzip")
			r.RemoteAddr = "127.0.0.1:40000"
			return r
		}(),
	} {
		rec := httptest.NewRecorder()
		if w, _ := s.compressing(rec, r); w != http.ResponseWriter(rec) {
			t.Errorf("%s: got %T, want the response writer itself", name, w)
		}
	}
}

// panicky is an object whose encoding panics, as a bug in an encoder
// would.
type panicky struct{ metav1.TypeMeta }

func (p *panicky) DeepCopyObject() runtime.Object { return p }
func (p *panicky) MarshalJSON() ([]byte, error)   { panic("encoder bug") }

// A panic while a response is held back sends nothing, so the recovery's
// 500 Status (withRecovery) reaches the client instead of an empty 200.
func TestCompressingAfterPanic(t *testing.T) {
	s := &Server{}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/pods/p", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != "encoder bug" {
				t.Fatalf("recovered %v", v)
			}
		}()
		s.writeObject(rec, r, http.StatusOK, &panicky{metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}})
	}()
	s.writeError(rec, r, errors.New("the encoder panicked"))
	if rec.Code != http.StatusInternalServerError || !bytes.Contains(rec.Body.Bytes(), []byte(`"code":500`)) {
		t.Fatalf("after a panic: HTTP %d, %s", rec.Code, rec.Body.Bytes())
	}
}
