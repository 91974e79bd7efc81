package apiserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// timeoutTestServer serves handler behind the request timeout filter,
// over real HTTP/2 with TLS, as the API server is reached.
func timeoutTestServer(t *testing.T, timeout time.Duration, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := testFlowControlServer(8, time.Minute)
	s.cfg.RequestTimeout = timeout
	ts := httptest.NewUnstartedServer(s.withRequestTimeout(newWarmStacks(handler, 2)))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

func getStatus(t *testing.T, ts *httptest.Server, path string) (int, metav1.Status, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := ts.Client().Get(ts.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	var st metav1.Status
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("GET %s: HTTP %d, body %q is not a Status: %v", path, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode, st, time.Since(start)
}

func TestRequestTimeoutAnswers504(t *testing.T) {
	release := make(chan struct{})
	late := make(chan error, 1)
	ts := timeoutTestServer(t, 300*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		<-release // a handler stuck on something that ignores the deadline
		_, err := w.Write([]byte("too late"))
		late <- err
	})
	defer close(release)
	code, st, took := getStatus(t, ts, "/api/v1/namespaces/default/pods/a")
	if code != http.StatusGatewayTimeout || st.Reason != metav1.StatusReasonTimeout || st.Code != http.StatusGatewayTimeout ||
		st.Message != "Timeout: request did not complete within the allotted timeout" {
		t.Errorf("stuck request: HTTP %d, %+v; want 504 with reason Timeout", code, st)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("stuck request answered after %v, want at its 300ms deadline", took)
	}
	release <- struct{}{}
	if err := <-late; !errors.Is(err, http.ErrHandlerTimeout) {
		t.Errorf("the handler's write after the deadline: %v, want http.ErrHandlerTimeout", err)
	}
}

func TestRequestTimeoutParam(t *testing.T) {
	const server = 10 * time.Second
	ts := timeoutTestServer(t, server, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("block") != "" {
			<-r.Context().Done()
			return // as flow control does: give up without an answer
		}
		deadline, ok := r.Context().Deadline()
		if !ok {
			w.Header().Set("X-Left", "none")
		} else {
			w.Header().Set("X-Left", time.Until(deadline).Round(time.Second).String())
		}
		w.WriteHeader(http.StatusOK)
	})
	left := func(path string) string {
		t.Helper()
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Left")
	}
	for path, want := range map[string]string{
		"/api/v1/pods":                                      "10s", // the server's
		"/api/v1/pods?timeout=5s":                           "5s",  // shorter: the client's
		"/api/v1/pods?timeout=1h":                           "10s", // longer: capped
		"/api/v1/pods?timeout=0s":                           "10s", // none of the client's own
		"/api/v1/pods?timeoutSeconds=1":                     "10s", // a watch's option, not this
		"/api/v1/pods?watch=true&timeout=1s":                "none",
		"/api/v1/namespaces/default/pods/p/log?timeout=1s":  "none",
		"/api/v1/namespaces/default/pods/p/exec?timeout=1s": "none",
	} {
		if got := left(path); got != want {
			t.Errorf("%s: time left %s, want %s", path, got, want)
		}
	}

	code, st, took := getStatus(t, ts, "/api/v1/pods?block=1&timeout=200ms")
	if code != http.StatusGatewayTimeout || st.Reason != metav1.StatusReasonTimeout || took > 5*time.Second {
		t.Errorf("?timeout=200ms on a handler that gives up at the deadline: HTTP %d %+v after %v, want 504 Timeout at once", code, st, took)
	}

	code, st, _ = getStatus(t, ts, "/api/v1/pods?timeout=soon")
	if code != http.StatusBadRequest || st.Reason != metav1.StatusReasonBadRequest ||
		!strings.HasPrefix(st.Message, "invalid timeout specified in the request URL - ") {
		t.Errorf("?timeout=soon: HTTP %d %+v, want 400 BadRequest naming the timeout", code, st)
	}
}

// A response that has begun cannot become a 504: the stream is cut, so
// the client sees an error, not a short body that looks whole.
func TestRequestTimeoutAbortsBegunResponse(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ts := timeoutTestServer(t, 300*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"kind":"PodList","items":[`))
		w.(http.Flusher).Flush()
		<-release
	})
	resp, err := ts.Client().Get(ts.URL + "/api/v1/pods")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a response cut at the deadline read as whole: %q", body)
	}
	if string(body) != `{"kind":"PodList","items":[` {
		t.Errorf("before the cut the client read %q", body)
	}
}
