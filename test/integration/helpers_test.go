// Package integration tests the API server in-process with real etcd and
// real HTTPS, through client-go and raw HTTP.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/test/framework"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start runs a server and returns it with a protobuf clientset.
func start(t *testing.T) (*framework.Server, kubernetes.Interface) {
	t.Helper()
	s := framework.StartServer(t, framework.Options{})
	return s, s.Client(t)
}

// rawClient does plain HTTP requests with the admin credentials.
type rawClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newRaw(t *testing.T, s *framework.Server) *rawClient {
	cfg := s.RestConfig(t)
	cfg.DisableCompression = true // no Accept-Encoding but the test's own, nothing unzipped
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, base: s.URL, http: hc}
}

// do sends a request and returns the status code and body.
func (c *rawClient) do(method, path, contentType string, body []byte, headers ...string) (int, []byte, http.Header) {
	c.t.Helper()
	resp, data := c.response(method, path, contentType, body, headers...)
	return resp.StatusCode, data, resp.Header
}

// response sends a request and returns the response and its body, read.
func (c *rawClient) response(method, path, contentType string, body []byte, headers ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// status decodes a metav1.Status body.
func status(t *testing.T, data []byte) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("not a Status: %v: %s", err, data)
	}
	return st
}

func expectStatus(t *testing.T, code int, data []byte, wantCode int, wantReason metav1.StatusReason) metav1.Status {
	t.Helper()
	if code != wantCode {
		t.Fatalf("HTTP %d, want %d: %s", code, wantCode, data)
	}
	st := status(t, data)
	if st.Kind != "Status" || st.Code != int32(wantCode) || st.Reason != wantReason {
		t.Fatalf("status = %+v, want code %d reason %s", st, wantCode, wantReason)
	}
	return st
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(ctxFor(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// eventually polls cond until it is true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
