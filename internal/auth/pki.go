// Package auth owns the cluster's credentials and the request guards built
// on them:
//
//   - the cluster CA and the certificates it signs (serving, client),
//   - kubeconfig files for those credentials,
//   - the node join token and static bearer tokens,
//   - service account tokens: the signing key (sa.key), issuing bound
//     JWTs and authenticating them (the objects they name are looked up
//     through a getter the API server supplies),
//   - authentication of requests (client certificates, bearer tokens),
//   - the authorization seam (Authorizer, Attributes, Decision).
//
// It does not route HTTP or write API errors (the apiserver does), and it
// holds no RBAC objects: RBAC will plug in later as another Authorizer.
//
// Files on disk: keys are written 0600, certificates 0644, every write is
// atomic (temporary file and rename) so a crash never leaves half a file.
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

const (
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"

	caValidity = 10 * 365 * 24 * time.Hour
	// backdate covers modest clock skew between the server and its clients.
	backdate = time.Hour
)

// CA is the cluster certificate authority. It signs the serving
// certificate, client certificates (admin, nodes) and is the trust root
// clients are given in their kubeconfig.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // PEM of Cert, as written to ca.crt
}

// EnsureCA loads dir/ca.crt and dir/ca.key, or creates them when neither
// exists (ECDSA P-256, valid 10 years, CN "skiff-ca@<unix time>").
//
// A lone ca.key is the trace of an interrupted creation (the certificate is
// written last) and is replaced. A lone ca.crt, a key that does not match
// the certificate, a certificate that is not a CA, or an expired CA is an
// error: replacing a CA silently would cut off every node and kubeconfig.
func EnsureCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, keyPEM, err := readPair(certPath, keyPath)
	switch {
	case err == nil:
		return parseCA(certPath, certPEM, keyPEM)
	case errors.Is(err, errNoCert):
		return createCA(certPath, keyPath)
	default:
		return nil, err
	}
}

func parseCA(certPath string, certPEM, keyPEM []byte) (*CA, error) {
	cert, key, err := parsePair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%s: not a CA certificate", certPath)
	}
	if time.Now().After(cert.NotAfter) {
		return nil, fmt.Errorf("%s: CA expired at %s; remove %s and %s to create a new one",
			certPath, cert.NotAfter.Format(time.RFC3339), caCertFile, caKeyFile)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

func createCA(certPath, keyPath string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("skiff-ca@%d", now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	certPEM := encodeCert(der)
	if err := writePair(certPath, keyPath, certPEM, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// Pool returns a new pool holding only this CA; the caller owns it.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Hash pins the CA as kubeadm's --discovery-token-ca-cert-hash does:
// "sha256:" and the lowercase hex SHA-256 of its SubjectPublicKeyInfo.
func (ca *CA) Hash() string { return CertHash(ca.Cert) }

// CertHash is Hash for any certificate; a joining node uses it to check
// the CA the server presents against the hash in its join token.
func CertHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Sign issues a certificate for pub from tmpl, signed by the CA. tmpl is
// not modified; a missing serial number or NotBefore is filled in. It
// returns the certificate as PEM and parsed.
func (ca *CA) Sign(tmpl *x509.Certificate, pub crypto.PublicKey) (certPEM []byte, cert *x509.Certificate, err error) {
	t := *tmpl
	if t.SerialNumber == nil {
		t.SerialNumber = newSerial()
	}
	if t.NotBefore.IsZero() {
		t.NotBefore = time.Now().Add(-backdate)
	}
	der, err := x509.CreateCertificate(rand.Reader, &t, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate %q: %w", t.Subject.CommonName, err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), cert, nil
}

// SignServingCert issues a TLS server certificate for pub, valid for the
// given DNS names and IPs (hosts that parse as IPs count as IPs).
func (ca *CA) SignServingCert(pub crypto.PublicKey, hosts []string, ips []net.IP, validity time.Duration) ([]byte, error) {
	dns, allIPs := normalizeSANs(hosts, ips)
	if len(dns) == 0 && len(allIPs) == 0 {
		return nil, errors.New("serving certificate needs at least one DNS name or IP")
	}
	now := time.Now()
	certPEM, _, err := ca.Sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dns,
		IPAddresses: allIPs,
	}, pub)
	return certPEM, err
}

// SignClientCert issues a TLS client certificate for pub that
// authenticates as user (CN) in groups (O). A node joining with a CSR gets
// its certificate here, as NodeUser(name) in GroupNodes.
func (ca *CA) SignClientCert(pub crypto.PublicKey, user string, groups []string, validity time.Duration) ([]byte, error) {
	if user == "" {
		return nil, errors.New("client certificate needs a user name")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("client certificate validity %s is not positive", validity)
	}
	now := time.Now()
	certPEM, _, err := ca.Sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, pub)
	return certPEM, err
}
