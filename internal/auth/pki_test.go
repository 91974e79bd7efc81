package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEnsureCACreatesThenReuses(t *testing.T) {
	dir := t.TempDir()
	ca1 := mustCA(t, dir)
	ca2 := mustCA(t, dir)
	if !ca1.Cert.Equal(ca2.Cert) {
		t.Fatal("second EnsureCA made a new certificate")
	}
	if !ca1.Key.Public().(*ecdsa.PublicKey).Equal(ca2.Key.Public()) {
		t.Fatal("second EnsureCA made a new key")
	}
	c := ca1.Cert
	if !c.IsCA || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("not a CA: IsCA=%v usage=%v", c.IsCA, c.KeyUsage)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", c.PublicKey)
	}
	if !regexp.MustCompile(`^skiff-ca@\d+$`).MatchString(c.Subject.CommonName) {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if years := c.NotAfter.Sub(c.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("validity %.1f years, want 10", years)
	}
	if m := fileMode(t, filepath.Join(dir, "ca.key")); m != 0o600 {
		t.Errorf("ca.key mode %v, want 0600", m)
	}
	if !strings.HasPrefix(string(ca1.CertPEM), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("CertPEM is not PEM")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca1.Pool()}); err != nil {
		t.Errorf("CA not verifiable against its own pool: %v", err)
	}
}

func TestCAHash(t *testing.T) {
	ca := mustCA(t, t.TempDir())
	h := ca.Hash()
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("Hash() = %q", h)
	}
	if CertHash(ca.Cert) != h {
		t.Error("CertHash differs from Hash")
	}
	if other := mustCA(t, t.TempDir()); other.Hash() == h {
		t.Error("two CAs with the same hash")
	}
}

func TestEnsureCAFileStates(t *testing.T) {
	t.Run("lone key is an interrupted creation", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "ca.key"), []byte("half"), 0o600)
		if _, err := EnsureCA(dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("lone certificate is an error", func(t *testing.T) {
		dir := t.TempDir()
		ca := mustCA(t, dir)
		os.Remove(filepath.Join(dir, "ca.key"))
		if _, err := EnsureCA(dir); err == nil {
			t.Fatal("accepted ca.crt without ca.key")
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); string(got) != string(ca.CertPEM) {
			t.Fatal("ca.crt was overwritten")
		}
	})
	t.Run("key of another CA is an error", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		mustCA(t, dir)
		mustCA(t, other)
		key, _ := os.ReadFile(filepath.Join(other, "ca.key"))
		os.WriteFile(filepath.Join(dir, "ca.key"), key, 0o600)
		if _, err := EnsureCA(dir); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("err = %v, want key mismatch", err)
		}
	})
	t.Run("leaf certificate is not a CA", func(t *testing.T) {
		dir := t.TempDir()
		ca := mustCA(t, t.TempDir())
		certPEM, keyPEM, _ := IssueClientCert(ca, "x", nil, time.Hour)
		os.WriteFile(filepath.Join(dir, "ca.crt"), certPEM, 0o644)
		os.WriteFile(filepath.Join(dir, "ca.key"), keyPEM, 0o600)
		if _, err := EnsureCA(dir); err == nil || !strings.Contains(err.Error(), "not a CA") {
			t.Fatalf("err = %v, want not a CA", err)
		}
	})
}

// An administrator may bring their own CA; RSA in PKCS #8 must work.
func TestEnsureCALoadsProvidedRSACA(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: newSerial(), Subject: pkix.Name{CommonName: "my-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	pk8, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "ca.crt"), encodeCert(der), 0o644)
	os.WriteFile(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), 0o600)
	ca := mustCA(t, dir)
	if ca.Cert.Subject.CommonName != "my-ca" {
		t.Fatalf("loaded %q", ca.Cert.Subject.CommonName)
	}
	cert := clientCert(t, ca, "alice")
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("certificate from the RSA CA: %v", err)
	}
}

func TestSignClientCertRejectsBadInput(t *testing.T) {
	ca := mustCA(t, t.TempDir())
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := ca.SignClientCert(key.Public(), "", nil, time.Hour); err == nil {
		t.Error("accepted an empty user")
	}
	if _, err := ca.SignClientCert(key.Public(), "u", nil, 0); err == nil {
		t.Error("accepted zero validity")
	}
	if _, err := ca.SignServingCert(key.Public(), nil, nil, time.Hour); err == nil {
		t.Error("accepted a serving certificate without names")
	}
}
