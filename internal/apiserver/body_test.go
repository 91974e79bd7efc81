package apiserver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TestReadBody reads bodies of declared length (into one buffer of that
// size), of unknown length, cut short, and over the limit.
func TestReadBody(t *testing.T) {
	pod := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`)

	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(pod))
	if r.ContentLength != int64(len(pod)) {
		t.Fatalf("ContentLength %d", r.ContentLength)
	}
	got, err := readBody(r)
	if err != nil || !bytes.Equal(got, pod) || cap(got) != len(pod) {
		t.Fatalf("sized body: %q (cap %d), %v", got, cap(got), err)
	}

	r = httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(pod))) // length unknown
	r.ContentLength = -1
	if got, err := readBody(r); err != nil || !bytes.Equal(got, pod) {
		t.Fatalf("unsized body: %q, %v", got, err)
	}

	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"short"`))
	r.ContentLength = 100 // the client declared more than it sent
	if _, err := readBody(r); !apierrors.IsBadRequest(err) {
		t.Fatalf("short body: %v, want a 400", err)
	}

	r = httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(pod)))
	r.ContentLength = -1
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	if _, err := readBody(r); !apierrors.IsRequestEntityTooLargeError(err) {
		t.Fatalf("body over the limit: %v, want a 413", err)
	}

	allocs := testing.AllocsPerRun(100, func() {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(pod))
		r.Body = io.NopCloser(bytes.NewReader(pod))
		if _, err := readBody(r); err != nil {
			t.Fatal(err)
		}
	})
	base := testing.AllocsPerRun(100, func() {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(pod))
		r.Body = io.NopCloser(bytes.NewReader(pod))
	})
	if allocs-base > 1 {
		t.Fatalf("reading a sized body took %v allocations, want 1", allocs-base)
	}
}
