package storage

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func TestClientConfigValidate(t *testing.T) {
	for name, cfg := range map[string]ClientConfig{
		"no endpoints":  {},
		"no scheme":     {Endpoints: []string{"127.0.0.1:2379"}},
		"bad scheme":    {Endpoints: []string{"unix:///x"}},
		"cert, no key":  {Endpoints: []string{"https://e:2379"}, CertFile: "c"},
		"key, no cert":  {Endpoints: []string{"https://e:2379"}, KeyFile: "k"},
		"neg. timeout":  {Endpoints: []string{"http://e:2379"}, DialTimeout: -time.Second},
		"one bad of 2":  {Endpoints: []string{"http://e:2379", "e2"}},
		"empty host":    {Endpoints: []string{"http://"}},
		"garbage chars": {Endpoints: []string{"http://%zz"}},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
	}
	if err := (ClientConfig{Endpoints: []string{"http://127.0.0.1:2379", "https://e:2379"}}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestNewClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	start := time.Now()
	_, err = NewClient(context.Background(), ClientConfig{Endpoints: []string{"http://" + addr},
		DialTimeout: 500 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		t.Fatalf("connected to nothing")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("NewClient took %v to fail with a 500ms dial timeout", d)
	}
}

// TestNewClientTLS connects with a client certificate to an etcd that
// requires one.
func TestNewClientTLS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := writeCert(t, dir, "ca", nil, nil)
	writeCert(t, dir, "server", caCert, caKey)
	writeCert(t, dir, "client", caCert, caKey)
	files := func(name string) (string, string) {
		return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	cfg := embedConfig(EmbeddedConfig{DataDir: filepath.Join(dir, "etcd"), ClientURL: "http://127.0.0.1:0",
		PeerURL: "http://127.0.0.1:0", Name: "tls", Logger: quiet})
	secure, _ := url.Parse("https://127.0.0.1:0")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*secure}, []url.URL{*secure}
	cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = files("server")
	cfg.ClientTLSInfo.TrustedCAFile, _ = files("ca")
	cfg.ClientTLSInfo.ClientCertAuth = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready")
	}
	endpoint := "https://" + e.Clients[0].Addr().String()

	ca, _ := files("ca")
	cert, key := files("client")
	client, err := NewClient(context.Background(), ClientConfig{Endpoints: []string{endpoint},
		CAFile: ca, CertFile: cert, KeyFile: key, Logger: quiet})
	if err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	_ = client.Close()

	_, err = NewClient(context.Background(), ClientConfig{Endpoints: []string{endpoint}, CAFile: ca,
		DialTimeout: time.Second, Logger: quiet})
	if err == nil {
		t.Fatalf("connected without the client certificate etcd requires")
	}
}

// writeCert writes name.crt and name.key, self-signed CA when parent is nil.
func writeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".crt", "CERTIFICATE", der)
	write(name+".key", "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
