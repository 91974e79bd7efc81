package auth

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
	"time"
)

func mustCA(t *testing.T, dir string) *CA {
	t.Helper()
	ca, err := EnsureCA(dir)
	if err != nil {
		t.Fatalf("EnsureCA: %v", err)
	}
	return ca
}

func mustParseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(certPEM)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

// clientCert issues a client certificate from ca as a tls.Certificate.
func clientCert(t *testing.T, ca *CA, user string, groups ...string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := IssueClientCert(ca, user, groups, 24*time.Hour)
	if err != nil {
		t.Fatalf("IssueClientCert: %v", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requestWithCert is a request as the server sees it after a handshake in
// which the client presented chain.
func requestWithCert(chain ...*x509.Certificate) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1/api", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: chain}
	return r
}

func requestWithHeader(authorization string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1/api", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
