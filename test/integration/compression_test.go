package integration

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/test/framework"
)

// unzipped sends a request through c and returns the response and its
// body, unzipped when the response says it is gzipped.
func unzipped(c *rawClient, method, path string, body []byte, headers ...string) (*http.Response, []byte) {
	c.t.Helper()
	resp, data := c.response(method, path, "application/json", body, headers...)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			c.t.Fatalf("%s %s: gzip header: %v", method, path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			c.t.Fatalf("%s %s: gzip body: %v", method, path, err)
		}
	}
	return resp, data
}

func gzipped(resp *http.Response) bool { return resp.Header.Get("Content-Encoding") == "gzip" }

// fillConfigMaps creates n ConfigMaps in default, each with 1 KiB of
// data and a 1 KiB annotation: about 2.4 KiB a piece in their list, and
// 1.3 KiB in a Table or a list of their metadata.
func fillConfigMaps(t *testing.T, cs kubernetes.Interface, n int) {
	t.Helper()
	ctx := ctxFor(t)
	value := strings.Repeat("v", 1024)
	for i := range n {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%03d", i), Annotations: map[string]string{"note": value}},
			Data: map[string]string{"value": value}}
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// The API server gzips a response over 128 KiB for a client that accepts
// gzip, as kube-apiserver does (APIResponseCompression): lists in every
// encoding, single objects, and create responses; never small responses,
// watches, or clients that ask for none.
func TestResponseCompression(t *testing.T) {
	s := framework.StartServer(t, framework.Options{DisableCompressionForClientIPs: []string{}}) // gzip for loopback too
	cs := s.Client(t)
	fillConfigMaps(t, cs, 150) // a list of about 360 KiB
	c := newRaw(t, s)
	const list = "/api/v1/namespaces/default/configmaps"

	// A JSON list: gzipped, and it unzips to the bytes sent to a client
	// that does not accept gzip.
	resp, zipped := unzipped(c, "GET", list, nil, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || !gzipped(resp) || resp.Header.Get("Vary") != "Accept-Encoding" || resp.ContentLength != -1 {
		t.Fatalf("list: HTTP %d, headers %v, length %d", resp.StatusCode, resp.Header, resp.ContentLength)
	}
	plainResp, plain := unzipped(c, "GET", list, nil)
	if gzipped(plainResp) || plainResp.StatusCode != http.StatusOK {
		t.Fatalf("list without Accept-Encoding: HTTP %d, headers %v", plainResp.StatusCode, plainResp.Header)
	}
	if !bytes.Equal(zipped, plain) || len(plain) < 128<<10 {
		t.Fatalf("gzipped list unzips to %d bytes, the plain list is %d", len(zipped), len(plain))
	}
	var cms corev1.ConfigMapList
	if err := json.Unmarshal(zipped, &cms); err != nil || len(cms.Items) != 150 {
		t.Fatalf("unzipped list: %v, %d items", err, len(cms.Items))
	}

	// Protobuf lists, Tables and metadata lists are gzipped alike.
	partial := "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
	for accept, want := range map[string]string{
		"application/vnd.kubernetes.protobuf":          "application/vnd.kubernetes.protobuf",
		"application/json;as=Table;v=v1;g=meta.k8s.io": "application/json",
		partial: "application/json",
	} {
		resp, body := unzipped(c, "GET", list, nil, "Accept", accept, "Accept-Encoding", "gzip")
		if resp.StatusCode != http.StatusOK || !gzipped(resp) || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) || len(body) < 128<<10 {
			t.Fatalf("list as %s: HTTP %d, headers %v, %d bytes unzipped", accept, resp.StatusCode, resp.Header, len(body))
		}
	}

	// Small responses and clients that refuse gzip get plain bytes; a
	// single object keeps its Content-Length.
	for _, tc := range []struct {
		path, accept, encoding string
		length                 bool
	}{
		{list + "/cm-000", "", "gzip", true},
		{list + "/missing", "", "gzip", true}, // a 404 Status
		{list + "?limit=10", "", "gzip", false},
		{list + "?limit=50", partial, "gzip", false}, // 65 KiB
		{list, "", "gzip;q=0", false},
		{list, "", "identity", false},
	} {
		resp, _ := unzipped(c, "GET", tc.path, nil, "Accept", tc.accept, "Accept-Encoding", tc.encoding)
		if gzipped(resp) {
			t.Fatalf("GET %s as %q with Accept-Encoding %q was gzipped", tc.path, tc.accept, tc.encoding)
		}
		if tc.length && resp.ContentLength <= 0 {
			t.Fatalf("GET %s: a small object without Content-Length", tc.path)
		}
	}

	// A single object over the threshold, as created (201) and as read.
	big := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "big"}, Data: map[string]string{"value": strings.Repeat("b", 300<<10)}}
	data, _ := json.Marshal(big)
	resp, body := unzipped(c, "POST", list, data, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusCreated || !gzipped(resp) {
		t.Fatalf("create of a 300 KiB ConfigMap: HTTP %d, headers %v", resp.StatusCode, resp.Header)
	}
	var created corev1.ConfigMap
	if err := json.Unmarshal(body, &created); err != nil || len(created.Data["value"]) != 300<<10 {
		t.Fatalf("created ConfigMap: %v", err)
	}
	resp, body = unzipped(c, "GET", list+"/big", nil, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || !gzipped(resp) || !bytes.Contains(body, []byte(created.ResourceVersion)) {
		t.Fatalf("GET of the 300 KiB ConfigMap: HTTP %d, headers %v", resp.StatusCode, resp.Header)
	}

	// A watch is never gzipped: its events must reach the client as they
	// happen. Its initial events here are 300 KiB and more.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+list+"?watch=true&resourceVersion=0", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	wresp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReaderSize(wresp.Body, 1<<20).ReadBytes('\n')
	wresp.Body.Close()
	if gzipped(wresp) || err != nil || !bytes.HasPrefix(line, []byte(`{"type":"ADDED"`)) {
		t.Fatalf("watch: headers %v, first line %.80q, %v", wresp.Header, line, err)
	}

	// client-go asks for gzip itself and unzips what it gets.
	cfg := s.RestConfig(t)
	if cfg.DisableCompression {
		t.Fatal("the admin config disables compression")
	}
	jsonClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jsonClient.CoreV1().ConfigMaps("default").List(ctxFor(t), metav1.ListOptions{})
	if err != nil || len(got.Items) != 151 {
		t.Fatalf("client-go list: %v, %d items", err, len(got.Items))
	}

	// So does the real kubectl.
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.Command(kubectl, "--kubeconfig", s.Kubeconfig, "get", "configmaps", "-n", "default", "--chunk-size=0").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl get configmaps: %v\n%s", err, out)
		}
		if rows := strings.Count(string(out), "\ncm-"); rows != 150 {
			t.Fatalf("kubectl printed %d cm- rows, want 150:\n%.400s", rows, out)
		}
	} else {
		t.Log("kubectl is not on PATH: its part of the test is skipped")
	}
}

// By default (skiff server's --disable-compression-for-client-ips)
// clients on loopback get no gzip: for them it only costs CPU.
func TestNoCompressionForLoopbackByDefault(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	fillConfigMaps(t, s.Client(t), 150)
	c := newRaw(t, s)
	resp, body := unzipped(c, "GET", "/api/v1/namespaces/default/configmaps", nil, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || gzipped(resp) || len(body) < 128<<10 {
		t.Fatalf("list for a loopback client: HTTP %d, headers %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}
}
