package apiserver

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSplitSchemeNamePort(t *testing.T) {
	for _, tc := range []struct {
		id                 string
		scheme, name, port string
		ok                 bool
	}{
		{"web", "", "web", "", true},
		{"web:80", "", "web", "80", true},
		{"web:http", "", "web", "http", true},
		{"https:web:443", "https", "web", "443", true},
		{"http:web:", "http", "web", "", true},
		{"ftp:web:21", "", "", "", false},
		{":80", "", "", "", false},
		{"a:b:c:d", "", "", "", false},
	} {
		scheme, name, port, ok := splitSchemeNamePort(tc.id)
		if scheme != tc.scheme || name != tc.name || port != tc.port || ok != tc.ok {
			t.Errorf("%q: got %q %q %q %v", tc.id, scheme, name, port, ok)
		}
	}
}

func TestPodProxyLocation(t *testing.T) {
	pod := func(ip string, ports ...corev1.ContainerPort) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		p.Spec.Containers = []corev1.Container{{Name: "none"}, {Name: "c", Ports: ports}}
		p.Status.PodIP = ip
		if ip != "" {
			p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		}
		return p
	}
	web := corev1.ContainerPort{Name: "web", ContainerPort: 8080}
	for _, tc := range []struct {
		pod          *corev1.Pod
		scheme, port string
		want         string
		wantErr      string
	}{
		{pod("10.1.0.5", web), "", "", "http://10.1.0.5:8080", ""},
		{pod("10.1.0.5", web), "https", "9443", "https://10.1.0.5:9443", ""},
		{pod("10.1.0.5", web), "", "web", "http://10.1.0.5:8080", ""},
		{pod("10.1.0.5"), "", "", "http://10.1.0.5", ""},
		{pod("fd00::5"), "", "", "http://[fd00::5]", ""},
		{pod("fd00::5"), "", "80", "http://[fd00::5]:80", ""},
		{pod(""), "", "80", "", "address not allowed"},
		{pod("127.0.0.1"), "", "80", "", "address not allowed"},
		{pod("169.254.169.254"), "", "80", "", "address not allowed"},
	} {
		loc, err := podProxyLocation(tc.pod, tc.scheme, tc.port)
		if tc.wantErr != "" {
			if !apierrors.IsBadRequest(err) || err.Error() != tc.wantErr {
				t.Errorf("%s %q: got %v, want BadRequest %q", tc.pod.Status.PodIP, tc.port, err, tc.wantErr)
			}
			continue
		}
		if err != nil || loc.String() != tc.want {
			t.Errorf("%s %q: got %v %v, want %s", tc.pod.Status.PodIP, tc.port, loc, err, tc.want)
		}
	}
}

func TestServicePortName(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "metrics", Port: 9090}}
	for port, want := range map[string]string{"80": "http", "9090": "metrics", "http": "http", "": ""} {
		if got, err := servicePortName(svc, port); err != nil || got != want {
			t.Errorf("%q: got %q %v, want %q", port, got, err, want)
		}
	}
	_, err := servicePortName(svc, "81")
	if !apierrors.IsServiceUnavailable(err) || err.Error() != `no service port 81 found for service "web"` {
		t.Errorf("81: got %v", err)
	}
}

func TestPickServiceEndpoint(t *testing.T) {
	pod := func(name string) *corev1.ObjectReference { return &corev1.ObjectReference{Kind: "Pod", Name: name} }
	groups := []endpointGroup{
		{ports: map[string]int32{"metrics": 9090}, addrs: []endpointAddr{{ip: "10.0.0.1", ref: pod("a")}}},
		{ports: map[string]int32{"http": 8080}, addrs: []endpointAddr{
			{ip: "10.0.0.2", ref: nil}, {ip: "10.0.0.3", ref: pod("stale")}, {ip: "10.0.0.4", ref: pod("b")}}},
	}
	valid := func(_ context.Context, ref *corev1.ObjectReference, ip string) bool {
		return ref != nil && ref.Name != "stale"
	}
	for seed := range 3 {
		intn := func(n int) int { return seed % n }
		got, ok := pickServiceEndpoint(context.Background(), groups, "http", intn, valid)
		if !ok || got != "10.0.0.4:8080" {
			t.Errorf("seed %d: got %q %v", seed, got, ok)
		}
	}
	if got, ok := pickServiceEndpoint(context.Background(), groups, "grpc", func(int) int { return 0 }, valid); ok {
		t.Errorf("grpc: got %q", got)
	}
}

func TestSplitProxyPath(t *testing.T) {
	for _, tc := range []struct{ path, prefix, rest string }{
		{"/api/v1/namespaces/proxy/pods/proxy-1:80/proxy", "/api/v1/namespaces/proxy/pods/proxy-1:80/proxy", ""},
		{"/api/v1/namespaces/proxy/pods/proxy-1/proxy/", "/api/v1/namespaces/proxy/pods/proxy-1/proxy", "/"},
		{"/api/v1/namespaces/ns/services/https:web:443/proxy/a%2Fb/c/", "/api/v1/namespaces/ns/services/https:web:443/proxy", "/a%2Fb/c/"},
		{"/api/v1/nodes/proxy-node/proxy/metrics", "/api/v1/nodes/proxy-node/proxy", "/metrics"},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		prefix, rest := splitProxyPath(r, parseRequestInfo(r))
		if prefix != tc.prefix || rest != tc.rest {
			t.Errorf("%s: got %q %q, want %q %q", tc.path, prefix, rest, tc.prefix, tc.rest)
		}
	}
}

func TestRewriteURL(t *testing.T) {
	rt := &rewritingTransport{prefix: "/api/v1/namespaces/ns/services/web:80/proxy", backendHost: "10.0.0.4:8080", apiHost: "api.example:6443"}
	for in, want := range map[string]string{
		"/login":                      "/api/v1/namespaces/ns/services/web:80/proxy/login",
		"/dir/":                       "/api/v1/namespaces/ns/services/web:80/proxy/dir/",
		"/":                           "/api/v1/namespaces/ns/services/web:80/proxy/",
		"/x?next=%2Fa#top":            "/api/v1/namespaces/ns/services/web:80/proxy/x?next=%2Fa#top",
		"http://10.0.0.4:8080/a":      "/api/v1/namespaces/ns/services/web:80/proxy/a",
		"https://api.example:6443/a":  "https://api.example:6443/api/v1/namespaces/ns/services/web:80/proxy/a",
		"relative/page":               "relative/page",
		"https://elsewhere.example/a": "https://elsewhere.example/a",
		"/api/v1/namespaces/ns/services/web:80/proxy/already": "/api/v1/namespaces/ns/services/web:80/proxy/already",
	} {
		if got := rt.rewriteURL(in); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

func TestRewriteHTML(t *testing.T) {
	page := `<!DOCTYPE html><html><head><link rel="stylesheet" href="/s.css"><script src="/app.js">if (a < b) { location = "/x" }</script></head>` +
		`<body><a href="/docs/">docs</a> <a href="rel">rel</a> <img src="https://cdn.example/i.png"><p class=x>text &amp; more</p></body></html>`
	var out strings.Builder
	err := rewriteHTML(strings.NewReader(page), &out, func(s string) string {
		if strings.HasPrefix(s, "/") {
			return "/p" + s
		}
		return s
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `<!DOCTYPE html><html><head><link rel="stylesheet" href="/p/s.css"><script src="/p/app.js">if (a < b) { location = "/x" }</script></head>` +
		`<body><a href="/p/docs/">docs</a> <a href="rel">rel</a> <img src="https://cdn.example/i.png"><p class=x>text &amp; more</p></body></html>`
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}
}

// TestProxyRequestInfo pins what the authorizer is asked for a proxy
// request: the lowercase verb of the method, as upstream's requestinfo.
func TestProxyRequestInfo(t *testing.T) {
	for method, verb := range map[string]string{"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
		"PATCH": "patch", "DELETE": "delete", "OPTIONS": "options"} {
		for _, tc := range []struct{ path, resource, name string }{
			{"/api/v1/namespaces/ns/pods/https:web:8443/proxy/a/b?watch=true", "pods", "https:web:8443"},
			{"/api/v1/namespaces/ns/services/web:80/proxy", "services", "web:80"},
			{"/api/v1/nodes/n1:10255/proxy/metrics", "nodes", "n1:10255"},
		} {
			ri := parseRequestInfo(httptest.NewRequest(method, tc.path, nil))
			if !ri.ResourceRequest || ri.Verb != verb || ri.Resource != tc.resource || ri.Subresource != "proxy" || ri.Name != tc.name {
				t.Errorf("%s %s: %+v", method, tc.path, ri)
			}
		}
	}
}
