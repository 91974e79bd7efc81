package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestComponentMuxProfiling(t *testing.T) {
	for _, profiling := range []bool{true, false} {
		srv := httptest.NewServer(componentMux(profiling))
		get := func(path string) (int, string) {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 4096)
			n, _ := resp.Body.Read(buf)
			b.Write(buf[:n])
			return resp.StatusCode, b.String()
		}
		if code, _ := get("/metrics"); code != http.StatusOK {
			t.Errorf("profiling=%v: /metrics %d", profiling, code)
		}
		code, body := get("/debug/pprof/heap?debug=1")
		if profiling && (code != http.StatusOK || !strings.Contains(body, "heap profile")) {
			t.Errorf("profiling on: heap profile %d %.80q", code, body)
		}
		if !profiling && code != http.StatusNotFound {
			t.Errorf("profiling off: /debug/pprof/heap answered %d", code)
		}
		srv.Close()
	}
}
