package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The SANs internal/app asks for.
var (
	testHosts = []string{"node1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local"}
	testIPs = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("192.168.1.10"), net.ParseIP("10.43.0.1")}
)

func mustServing(t *testing.T, dir string, ca *CA, hosts []string, ips []net.IP) tls.Certificate {
	t.Helper()
	c, err := EnsureServingCert(dir, ca, hosts, ips)
	if err != nil {
		t.Fatalf("EnsureServingCert: %v", err)
	}
	return c
}

func TestServingCert(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	first := mustServing(t, dir, ca, testHosts, testIPs)
	leaf := first.Leaf
	if !slices.Equal(leaf.DNSNames, testHosts) || len(leaf.IPAddresses) != len(testIPs) {
		t.Fatalf("SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	for _, h := range append(slices.Clone(testHosts), "127.0.0.1", "10.43.0.1") {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: ca.Pool()}); err != nil {
			t.Errorf("not valid for %s: %v", h, err)
		}
	}
	if days := leaf.NotAfter.Sub(time.Now()).Hours() / 24; days < 360 || days > 366 {
		t.Errorf("valid %.0f more days, want a year", days)
	}
	if m := fileMode(t, filepath.Join(dir, "serving.key")); m != 0o600 {
		t.Errorf("serving.key mode %v", m)
	}

	same := func(a, b tls.Certificate) bool { return bytes.Equal(a.Certificate[0], b.Certificate[0]) }

	// Same SANs, a subset, or the same names in another spelling: reused.
	for _, tc := range []struct {
		name  string
		hosts []string
		ips   []net.IP
	}{
		{"same", testHosts, testIPs},
		{"subset", testHosts[:2], testIPs[:1]},
		{"case and duplicates", []string{"LOCALHOST", "localhost", "", "127.0.0.1"}, nil},
		{"IPv4 in IPv6 form", nil, []net.IP{net.ParseIP("::ffff:10.43.0.1")}},
	} {
		if got := mustServing(t, dir, ca, tc.hosts, tc.ips); !same(first, got) {
			t.Errorf("%s: certificate regenerated", tc.name)
		}
	}

	// A new SAN: regenerated, and then reused.
	added := mustServing(t, dir, ca, append(slices.Clone(testHosts), "skiff.example"), testIPs)
	if same(first, added) || !slices.Contains(added.Leaf.DNSNames, "skiff.example") {
		t.Fatal("certificate not regenerated for a new DNS name")
	}
	if again := mustServing(t, dir, ca, testHosts, testIPs); !same(added, again) {
		t.Error("regenerated certificate not reused")
	}
	withIP := mustServing(t, dir, ca, testHosts, append(slices.Clone(testIPs), net.ParseIP("192.168.1.11")))
	if same(added, withIP) {
		t.Fatal("certificate not regenerated for a new IP")
	}

	// Another CA: regenerated.
	other := mustCA(t, t.TempDir())
	if got := mustServing(t, dir, other, testHosts, testIPs); same(withIP, got) {
		t.Error("certificate of another CA reused")
	} else if err := got.Leaf.CheckSignatureFrom(other.Cert); err != nil {
		t.Errorf("not signed by the new CA: %v", err)
	}
}

func TestServingCertRenewedNearExpiry(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certPEM, _, err := ca.Sign(&x509.Certificate{
		Subject: pkix.Name{CommonName: "kube-apiserver"}, NotAfter: time.Now().Add(10 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"},
	}, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := writePair(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key"), certPEM, key); err != nil {
		t.Fatal(err)
	}
	got := mustServing(t, dir, ca, []string{"localhost"}, nil)
	if time.Until(got.Leaf.NotAfter) < 300*24*time.Hour {
		t.Fatalf("certificate expiring %v was not renewed", got.Leaf.NotAfter)
	}
}

func TestServingCertReplacesGarbage(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	os.WriteFile(filepath.Join(dir, "serving.crt"), []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(dir, "serving.key"), []byte("garbage"), 0o600)
	mustServing(t, dir, ca, []string{"localhost"}, nil)
}

func TestClientCert(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	certPEM, keyPEM, err := EnsureClientCert(dir, "admin", ca, AdminUser, []string{GroupMasters})
	if err != nil {
		t.Fatal(err)
	}
	c := mustParseCert(t, certPEM)
	if c.Subject.CommonName != AdminUser || !slices.Equal(c.Subject.Organization, []string{GroupMasters}) {
		t.Fatalf("subject %v", c.Subject)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ext key usage %v", c.ExtKeyUsage)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("key does not match: %v", err)
	}
	if m := fileMode(t, filepath.Join(dir, "admin.key")); m != 0o600 {
		t.Errorf("admin.key mode %v", m)
	}

	again, _, _ := EnsureClientCert(dir, "admin", ca, AdminUser, []string{GroupMasters})
	if !bytes.Equal(again, certPEM) {
		t.Error("valid client certificate not reused")
	}
	regrouped, _, _ := EnsureClientCert(dir, "admin", ca, AdminUser, []string{GroupMasters, "ops"})
	if bytes.Equal(regrouped, certPEM) {
		t.Error("client certificate reused though its groups changed")
	}
	reordered, _, _ := EnsureClientCert(dir, "admin", ca, AdminUser, []string{"ops", GroupMasters})
	if !bytes.Equal(reordered, regrouped) {
		t.Error("client certificate regenerated for the same groups in another order")
	}
	renamed, _, _ := EnsureClientCert(dir, "admin", ca, "someone", []string{"ops", GroupMasters})
	if bytes.Equal(renamed, regrouped) {
		t.Error("client certificate reused though its user changed")
	}
	if _, _, err := EnsureClientCert(dir, "../admin", ca, AdminUser, nil); err == nil {
		t.Error("accepted a file name with a path")
	}
}

func TestIssueClientCertForNode(t *testing.T) {
	ca := mustCA(t, t.TempDir())
	certPEM, _, err := IssueClientCert(ca, NodeUser("worker-1"), []string{GroupNodes}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := mustParseCert(t, certPEM)
	if c.Subject.CommonName != "system:node:worker-1" || !slices.Equal(c.Subject.Organization, []string{"system:nodes"}) {
		t.Fatalf("subject %v", c.Subject)
	}
	if d := c.NotAfter.Sub(time.Now()); d > 2*time.Hour || d < 119*time.Minute {
		t.Errorf("validity ends in %v, want 2h", d)
	}
}
