package integration

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/websocket"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/test/framework"
)

// hostUnicastIP is an address of this host that the pod proxy accepts
// (global unicast: not loopback), or skips.
func hostUnicastIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("interface addresses: %v", err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if ip := p.Addr(); ip.Is4() && ip.IsGlobalUnicast() {
			return ip.String()
		}
	}
	t.Skip("this host has no global unicast IPv4 address for a stand-in pod to listen on")
	return ""
}

// echoed is what the stand-in pod answers on /echo.
type echoed struct {
	Method, Path, Query, Body, Host string
	ForwardedURI                    string
	Authorization                   bool
}

// startBackend runs the stand-in pod: an HTTP server on ip.
func startBackend(t *testing.T, ip string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/echo/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(body),
			Host: r.Host, ForwardedURI: r.Header.Get("X-Forwarded-Uri"), Authorization: r.Header.Get("Authorization") != ""})
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/target/?x=1", http.StatusFound) })
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<html><body><a href="/docs/">docs</a><a href="rel">rel</a></body></html>`)
	})
	mux.Handle("/ws", websocket.Server{Handler: func(c *websocket.Conn) { _, _ = io.Copy(c, c) }})
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("listen on %s: %v", ip, err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// proxyFixture is a namespace named "proxy" (the path segment the
// subresource is named after) with a pod "web" and a service "web" in
// front of a stand-in backend.
type proxyFixture struct {
	s        *framework.Server
	cs       kubernetes.Interface
	ip, port string
	raw      *http.Client // does not follow redirects
}

const proxyNS = "proxy"

func setupProxy(t *testing.T) *proxyFixture {
	ip := hostUnicastIP(t)
	backend := startBackend(t, ip)
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	portNum, _ := strconv.Atoi(port)
	s, cs := start(t)
	ctx := ctxFor(t)
	createNamespace(t, cs, proxyNS)

	pod := testPod("web")
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(portNum)}}
	created, err := cs.CoreV1().Pods(proxyNS).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.PodIP, created.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	if _, err := cs.CoreV1().Pods(proxyNS).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
	}}
	if _, err := cs.CoreV1().Services(proxyNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready, portName, port32 := true, "http", int32(portNum)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: proxyNS, Name: "web", UID: created.UID}}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &port32}},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices(proxyNS).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(s.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &proxyFixture{s: s, cs: cs, ip: ip, port: port, raw: hc}
}

func (f *proxyFixture) do(t *testing.T, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, f.s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.raw.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

func decodeEcho(t *testing.T, data []byte) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("not an echo: %v: %s", err, data)
	}
	return e
}

func TestProxySubresourceClientGo(t *testing.T) {
	f := setupProxy(t)
	ctx := ctxFor(t)
	pods, svcs := f.cs.CoreV1().Pods(proxyNS), f.cs.CoreV1().Services(proxyNS)
	for _, tc := range []struct {
		what string
		req  rest.ResponseWrapper
	}{
		{"pod by port number", pods.ProxyGet("", "web", f.port, "healthz", nil)},
		{"pod by port name", pods.ProxyGet("http", "web", "http", "healthz", nil)},
		{"pod first container port", pods.ProxyGet("", "web", "", "healthz", nil)},
		{"service by port number", svcs.ProxyGet("", "web", "80", "healthz", nil)},
		{"service by port name", svcs.ProxyGet("http", "web", "http", "healthz", nil)},
	} {
		data, err := tc.req.DoRaw(ctx)
		if err != nil || string(data) != "ok" {
			t.Errorf("%s: %q %v", tc.what, data, err)
		}
	}
	data, err := svcs.ProxyGet("", "web", "80", "echo/a b", map[string]string{"q": "1 2", "r": "x"}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := decodeEcho(t, data)
	if e.Method != "GET" || e.Path != "/echo/a%20b" || e.Query != "q=1+2&r=x" || e.Authorization ||
		e.ForwardedURI != "/api/v1/namespaces/proxy/services/web:80/proxy/echo/a b" {
		t.Errorf("echo = %+v", e)
	}

	// client-go's DoRaw reports errors by code only: the codes here, the
	// words (as upstream's) in TestProxySubresourceErrors.
	_, err = pods.ProxyGet("", "missing", "80", "", nil).DoRaw(ctx)
	if !apierrors.IsNotFound(err) {
		t.Errorf("missing pod: %v", err)
	}
	_, err = svcs.ProxyGet("", "missing", "80", "", nil).DoRaw(ctx)
	if !apierrors.IsNotFound(err) {
		t.Errorf("missing service: %v", err)
	}
}

func TestProxySubresourceErrors(t *testing.T) {
	f := setupProxy(t)
	ctx := ctxFor(t)
	if _, err := f.cs.CoreV1().Services(proxyNS).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "empty"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An ExternalName service has no endpoints to proxy to (nor does
	// upstream's proxy follow the name).
	if _, err := f.cs.CoreV1().Services(proxyNS).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cs.CoreV1().Pods(proxyNS).Create(ctx, testPod("no-ip"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/namespaces/proxy/"
	for _, tc := range []struct {
		path    string
		code    int
		reason  metav1.StatusReason
		message string
	}{
		{"pods/missing:80/proxy/", 404, metav1.StatusReasonNotFound, `pods "missing" not found`},
		{"pods/ftp:web:80/proxy/", 400, metav1.StatusReasonBadRequest, `invalid pod request "ftp:web:80"`},
		{"pods/no-ip:80/proxy/", 400, metav1.StatusReasonBadRequest, "address not allowed"},
		// Nothing listens on port 1 of the stand-in's address.
		{"pods/web:1/proxy/", 503, metav1.StatusReasonServiceUnavailable, "error trying to reach service: "},
		{"services/missing/proxy/", 404, metav1.StatusReasonNotFound, `services "missing" not found`},
		{"services/empty:80/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no endpoints available for service "empty"`},
		{"services/ext/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no endpoints available for service "ext"`},
		{"services/web:81/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no service port 81 found for service "web"`},
		{"services/web:grpc/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no endpoints available for service "web:grpc"`},
	} {
		code, body, _ := f.do(t, "GET", base+tc.path, "")
		if code != tc.code {
			t.Errorf("%s: HTTP %d, want %d: %s", tc.path, code, tc.code, body)
			continue
		}
		st := status(t, []byte(body))
		if st.Reason != tc.reason || !strings.HasPrefix(st.Message, tc.message) {
			t.Errorf("%s: %s %q, want %s %q", tc.path, st.Reason, st.Message, tc.reason, tc.message)
		}
	}
}

func TestProxySubresourceRaw(t *testing.T) {
	f := setupProxy(t)
	podBase := "/api/v1/namespaces/proxy/pods/web:" + f.port + "/proxy"
	svcBase := "/api/v1/namespaces/proxy/services/http:web:http/proxy"
	for _, base := range []string{podBase, svcBase} {
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			code, body, h := f.do(t, method, base+"/echo/x?a=1&b=two", "payload-"+method)
			if code != http.StatusOK {
				t.Fatalf("%s %s: %d %s", method, base, code, body)
			}
			e := decodeEcho(t, []byte(body))
			wantBody := "payload-" + method
			if method == "GET" || method == "OPTIONS" || method == "DELETE" {
				wantBody = e.Body // whatever the client sent; Go sends it
			}
			if e.Method != method || e.Path != "/echo/x" || e.Query != "a=1&b=two" || e.Body != wantBody || e.Authorization {
				t.Errorf("%s %s: echo %+v", method, base, e)
			}
			if h.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s %s: backend CORS header passed through", method, base)
			}
		}
		// The path is passed as the client escaped it.
		if _, body, _ := f.do(t, "GET", base+"/echo/a%2Fb/", ""); decodeEcho(t, []byte(body)).Path != "/echo/a%2Fb/" {
			t.Errorf("escaped path via %s: %s", base, body)
		}
		if code, body, _ := f.do(t, "HEAD", base+"/healthz", ""); code != http.StatusOK || body != "" {
			t.Errorf("HEAD %s: %d %q", base, code, body)
		}

		// A redirect to an absolute path stays beneath the proxy.
		code, _, h := f.do(t, "GET", base+"/redirect", "")
		if code != http.StatusFound || h.Get("Location") != base+"/target/?x=1" {
			t.Errorf("redirect via %s: %d Location %q", base, code, h.Get("Location"))
		}
		// So do an HTML page's links.
		_, body, _ := f.do(t, "GET", base+"/page", "")
		if !strings.Contains(body, `href="`+base+`/docs/"`) || !strings.Contains(body, `href="rel"`) {
			t.Errorf("page via %s: %s", base, body)
		}
		// .../proxy itself is sent to .../proxy/.
		code, _, h = f.do(t, "GET", base+"?q=1", "")
		if code != http.StatusMovedPermanently || h.Get("Location") != base+"/?q=1" {
			t.Errorf("GET %s: %d Location %q", base, code, h.Get("Location"))
		}
	}
}

func TestProxySubresourceWebSocket(t *testing.T) {
	f := setupProxy(t)
	cfg := f.s.RestConfig(t)
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg = tlsCfg.Clone()
	tlsCfg.NextProtos = []string{"http/1.1"}
	u, _ := url.Parse(f.s.URL)
	for _, p := range []string{
		"/api/v1/namespaces/proxy/pods/web:" + f.port + "/proxy/ws",
		"/api/v1/namespaces/proxy/services/web:80/proxy/ws",
	} {
		wsCfg, err := websocket.NewConfig("wss://"+u.Host+p, "https://"+u.Host)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.BearerToken != "" {
			wsCfg.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
		}
		conn, err := tls.Dial("tcp", u.Host, tlsCfg)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := websocket.NewClient(wsCfg, conn)
		if err != nil {
			_ = conn.Close()
			t.Fatalf("%s: %v", p, err)
		}
		for i := range 3 {
			msg := fmt.Sprintf("hello %d", i)
			if err := websocket.Message.Send(ws, msg); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
				t.Fatalf("%s: got %q %v, want %q", p, got, err, msg)
			}
		}
		_ = ws.Close()
	}
}

func TestProxySubresourceKubectl(t *testing.T) {
	kubectl := kubectlPath(t)
	f := setupProxy(t)
	out, err := exec.Command(kubectl, "--kubeconfig", f.s.Kubeconfig, "get", "--raw",
		"/api/v1/namespaces/proxy/services/web:80/proxy/healthz").CombinedOutput()
	if err != nil || string(out) != "ok" {
		t.Errorf("kubectl get --raw: %q %v", out, err)
	}
}
