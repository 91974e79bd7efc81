package auth

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestCAIsCreatedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	ca1, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ca1.Cert.Equal(ca2.Cert) || ca1.Hash() != ca2.Hash() || !strings.HasPrefix(ca1.Hash(), "sha256:") {
		t.Fatal("CA not reused")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "ca.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode %v", fi.Mode())
	}
}

func TestServingCertReusedUntilSANsChange(t *testing.T) {
	dir := t.TempDir()
	ca, _ := EnsureCA(dir)
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.43.0.1")}
	c1, err := EnsureServingCert(dir, ca, []string{"localhost", "kubernetes"}, ips)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := EnsureServingCert(dir, ca, []string{"kubernetes"}, ips[:1])
	if string(c1.Certificate[0]) != string(c2.Certificate[0]) {
		t.Error("serving cert regenerated though it covers every SAN")
	}
	c3, _ := EnsureServingCert(dir, ca, []string{"localhost", "new.example"}, ips)
	if string(c1.Certificate[0]) == string(c3.Certificate[0]) {
		t.Error("serving cert not regenerated for a new SAN")
	}
	// A new CA invalidates the old serving cert.
	other, _ := EnsureCA(t.TempDir())
	c4, _ := EnsureServingCert(dir, other, []string{"localhost", "new.example"}, ips)
	if string(c3.Certificate[0]) == string(c4.Certificate[0]) {
		t.Error("serving cert from another CA reused")
	}
}

func TestJoinTokenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca, _ := EnsureCA(dir)
	tok, err := EnsureJoinToken(dir, ca)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := EnsureJoinToken(dir, ca)
	if tok != again {
		t.Fatal("token not persisted")
	}
	parsed, err := ParseJoinToken(tok.String())
	if err != nil || parsed != tok {
		t.Fatalf("parse %q: %v %+v", tok, err, parsed)
	}
	if "sha256:"+parsed.CAHash != ca.Hash() {
		t.Error("token does not pin the CA")
	}
	for _, bad := range []string{"", "abc", "K10zz::abcdef.0123456789abcdef", "ABCDEF.0123456789abcdef", "abcdef.short", "abcdef.0123456789abcdefg"} {
		if _, err := ParseJoinToken(bad); err == nil {
			t.Errorf("ParseJoinToken(%q) accepted", bad)
		}
	}
}

// A real TLS server using ServerTLSConfig: the admin certificate and the
// join token authenticate, foreign certificates and wrong tokens do not.
func TestAuthenticationOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca, _ := EnsureCA(dir)
	serving, err := EnsureServingCert(dir, ca, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := EnsureJoinToken(dir, ca)
	tokens := NewTokenAuthenticator()
	tokens.AddJoinToken(tok)
	authn := Union(NewX509Authenticator(ca.Pool()), tokens)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := authn.AuthenticateRequest(r)
		if !ok {
			http.Error(w, "unauthorized: "+errString(err), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, u.Name+"|"+strings.Join(u.Groups, ","))
	}), TLSConfig: ServerTLSConfig(serving, ca)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tls.NewListener(ln, srv.TLSConfig))
	t.Cleanup(func() { srv.Close() })
	url := "https://" + ln.Addr().String()

	certPEM, keyPEM, err := EnsureClientCert(dir, "admin", ca, "system:admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "admin.kubeconfig")
	if err := WriteKubeconfig(kc, url, ca.CertPEM, certPEM, keyPEM, "default", "default"); err != nil {
		t.Fatal(err)
	}
	get := func(cfg *rest.Config) (int, string) {
		t.Helper()
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		hc.Timeout = 5 * time.Second
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(cfg); code != 200 || body != "system:admin|system:masters,system:authenticated" {
		t.Fatalf("admin: %d %s", code, body)
	}
	// A certificate from another CA is rejected (by the TLS layer or the
	// authenticator).
	otherCA, _ := EnsureCA(t.TempDir())
	oc, ok, _ := IssueClientCert(otherCA, "mallory", nil, time.Hour)
	bad := rest.CopyConfig(cfg)
	bad.CertData, bad.KeyData = oc, ok
	hc, _ := rest.HTTPClientFor(bad)
	if resp, err := hc.Get(url); err == nil {
		if resp.StatusCode != 401 {
			t.Fatalf("foreign cert: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	// Bearer tokens.
	tc := &rest.Config{Host: url, BearerToken: tok.Secret(), TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM}}
	if code, body := get(tc); code != 200 || !strings.HasPrefix(body, "system:bootstrap:"+tok.ID+"|system:bootstrappers") {
		t.Fatalf("join token: %d %s", code, body)
	}
	tc.BearerToken = "abcdef.0000000000000000"
	if code, _ := get(tc); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	// Token kubeconfig.
	tk := filepath.Join(dir, "node.kubeconfig")
	if err := WriteTokenKubeconfig(tk, url, ca.CertPEM, tok.String(), "default", "node"); err != nil {
		t.Fatal(err)
	}
	ncfg, _ := clientcmd.BuildConfigFromFlags("", tk)
	if code, _ := get(ncfg); code != 200 {
		t.Fatalf("token kubeconfig: %d", code)
	}
}

func TestTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	os.WriteFile(path, []byte("secret1,alice,uid1,\"dev,ops\"\nsecret2,bob,uid2\n"), 0o600)
	a := NewTokenAuthenticator()
	if err := a.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer secret1")
	u, ok, err := a.AuthenticateRequest(r)
	if !ok || err != nil || u.Name != "alice" || strings.Join(u.Groups, ",") != "dev,ops,system:authenticated" {
		t.Fatalf("alice: %+v %v %v", u, ok, err)
	}
	os.WriteFile(path, []byte("only-token\n"), 0o600)
	if err := a.LoadFile(path); err == nil {
		t.Fatal("malformed token file accepted")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
