package auth

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// testCluster is a CA, its credentials, and authenticators as the server
// wires them.
type testCluster struct {
	dir     string
	ca      *CA
	serving tls.Certificate
	token   JoinToken
	authn   Authenticator
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	dir := t.TempDir()
	c := &testCluster{dir: dir, ca: mustCA(t, dir)}
	c.serving = mustServing(t, dir, c.ca, []string{"localhost", "kubernetes"}, []net.IP{net.ParseIP("127.0.0.1")})
	var err error
	if c.token, err = EnsureJoinToken(dir, c.ca); err != nil {
		t.Fatal(err)
	}
	tokens := NewTokenAuthenticator()
	tokens.AddJoinToken(c.token)
	c.authn = Union(NewX509Authenticator(c.ca.Pool()), tokens)
	return c
}

// serve starts an HTTPS server on loopback that answers 401 unless authn
// recognises the request, "user|groups|protocol" otherwise, and /version
// for client-go's discovery. It returns the server's URL.
func (c *testCluster) serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := c.authn.AuthenticateRequest(r)
		if !ok {
			http.Error(w, fmt.Sprintf("unauthorized: %v", err), http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/version" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"major":"1","minor":"32","gitVersion":"v1.32.0+skiff"}`)
			return
		}
		fmt.Fprintf(w, "%s|%s|%s", u.Name, strings.Join(u.Groups, ","), r.Proto)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// get sends GET url with cfg's credentials; a transport error is code 0.
func get(t *testing.T, cfg *rest.Config, url string) (code int, body string, err error) {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc.Timeout = 10 * time.Second
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestServerAuthenticatesAdminKubeconfig(t *testing.T) {
	c := newTestCluster(t)
	url := c.serve(t, ServerTLSConfig(c.serving, c.ca))

	certPEM, keyPEM, err := EnsureClientCert(c.dir, "admin", c.ca, AdminUser, []string{GroupMasters})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.dir, "admin.kubeconfig")
	if err := WriteKubeconfig(path, url, c.ca.CertPEM, certPEM, keyPEM, "default", "default"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := get(t, cfg, url)
	if err != nil || code != 200 || body != "system:admin|system:masters,system:authenticated|HTTP/2.0" {
		t.Fatalf("admin: %d %q %v", code, body, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := dc.ServerVersion(); err != nil || v.GitVersion != "v1.32.0+skiff" {
		t.Fatalf("client-go discovery: %+v %v", v, err)
	}

	// Without credentials: 401.
	anon := &rest.Config{Host: url, TLSClientConfig: rest.TLSClientConfig{CAData: c.ca.CertPEM}}
	if code, _, err := get(t, anon, url); code != 401 {
		t.Errorf("anonymous: %d %v", code, err)
	}
	// A client that does not trust the cluster CA does not connect.
	untrusting := rest.CopyConfig(cfg)
	untrusting.CAData = mustCA(t, t.TempDir()).CertPEM
	if _, _, err := get(t, untrusting, url); err == nil {
		t.Error("client accepted a server certificate from a CA it does not trust")
	}
}

// A certificate from another CA never authenticates: the TLS layer
// refuses it, and so does the authenticator when the TLS layer only
// requests certificates without checking them.
func TestServerRejectsForeignClientCert(t *testing.T) {
	c := newTestCluster(t)
	other := mustCA(t, t.TempDir())
	certPEM, keyPEM, err := IssueClientCert(other, AdminUser, []string{GroupMasters}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign := func(url string) *rest.Config {
		return &rest.Config{Host: url, TLSClientConfig: rest.TLSClientConfig{
			CAData: c.ca.CertPEM, CertData: certPEM, KeyData: keyPEM}}
	}

	strict := c.serve(t, ServerTLSConfig(c.serving, c.ca))
	if code, body, err := get(t, foreign(strict), strict); err == nil {
		t.Errorf("ServerTLSConfig: %d %q %v, want a TLS error", code, body, err)
	}

	lax := ServerTLSConfig(c.serving, c.ca)
	lax.ClientAuth = tls.RequestClientCert
	laxURL := c.serve(t, lax)
	code, body, err := get(t, foreign(laxURL), laxURL)
	if err != nil || code != 401 || !strings.Contains(body, "x509") {
		t.Errorf("authenticator: %d %q %v, want 401 from the x509 authenticator", code, body, err)
	}
}

func TestServerAuthenticatesJoinToken(t *testing.T) {
	c := newTestCluster(t)
	url := c.serve(t, ServerTLSConfig(c.serving, c.ca))
	cfg := &rest.Config{Host: url, BearerToken: c.token.Secret(), TLSClientConfig: rest.TLSClientConfig{CAData: c.ca.CertPEM}}
	want := "system:bootstrap:" + c.token.ID + "|system:bootstrappers,system:bootstrappers:skiff:default-node-token,system:authenticated|HTTP/2.0"
	if code, body, err := get(t, cfg, url); code != 200 || body != want {
		t.Fatalf("join token: %d %q %v", code, body, err)
	}

	cfg.BearerToken = c.token.ID + ".0000000000000000"
	if code, body, _ := get(t, cfg, url); code != 401 || !strings.Contains(body, "invalid bearer token") {
		t.Errorf("wrong secret: %d %q", code, body)
	}
	cfg.BearerToken = "garbage"
	if code, _, _ := get(t, cfg, url); code != 401 {
		t.Errorf("garbage token: %d", code)
	}

	// A kubeconfig carrying the full join token.
	path := filepath.Join(c.dir, "bootstrap.kubeconfig")
	if err := WriteTokenKubeconfig(path, url, c.ca.CertPEM, c.token.String(), "default", "default"); err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, err := get(t, kc, url); code != 200 || !strings.HasPrefix(body, "system:bootstrap:") {
		t.Errorf("token kubeconfig: %d %q %v", code, body, err)
	}
}
