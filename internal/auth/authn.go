package auth

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Authenticator finds out who sent a request.
//
//   - ok=true: u is the request's user (the caller owns u).
//   - ok=false, err=nil: the request carries no credentials this
//     authenticator understands.
//   - ok=false, err!=nil: it carries such credentials and they are bad
//     (unknown token, certificate from another CA, expired, ...).
//
// The API server answers 401 when no authenticator says ok, and does not
// show err to the client.
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (u *User, ok bool, err error)
}

// Union tries each authenticator in order; the first that says ok decides.
// If none does, the errors of those that returned one are joined. Nil
// authenticators are skipped.
func Union(as ...Authenticator) Authenticator { return unionAuthn(slices.Clone(as)) }

type unionAuthn []Authenticator

func (u unionAuthn) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	var errs []error
	for _, a := range u {
		if a == nil {
			continue
		}
		user, ok, err := a.AuthenticateRequest(r)
		if ok {
			return user, true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return nil, false, errors.Join(errs...)
}

// X509Authenticator authenticates TLS client certificates that chain to a
// CA in Pool and are meant for client authentication: the user is the
// subject's CN, the groups its O values plus GroupAuthenticated.
//
// ServerTLSConfig already makes the TLS layer verify certificates a client
// offers; this check stands on its own so that it also holds for TLS
// configurations that only request a certificate. Verifying a chain costs
// public-key operations, and a client sends many requests with the same
// certificate (every request of an HTTP/2 connection), so an authenticator
// made by NewX509Authenticator remembers the chains it verified, until the
// earliest NotAfter in the chain, for a bounded number of certificates.
type X509Authenticator struct {
	Pool *x509.CertPool

	verified *verifiedCerts // nil: verify every time
}

var _ Authenticator = (*X509Authenticator)(nil)

// NewX509Authenticator returns an X509Authenticator for pool that caches
// verifications.
func NewX509Authenticator(pool *x509.CertPool) Authenticator {
	return &X509Authenticator{Pool: pool, verified: &verifiedCerts{m: map[[sha256.Size]byte]time.Time{}}}
}

// verifiedCerts maps the hash of a presented chain to when it stops being
// valid.
type verifiedCerts struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]time.Time
}

// maxVerifiedCerts bounds the cache: every node, controller and user
// has a certificate of its own, and a cluster has thousands at most.
const maxVerifiedCerts = 16384

func chainKey(certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range certs {
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (a *X509Authenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	if a.Pool == nil {
		return nil, false, errors.New("x509: no client CA configured")
	}
	if err := a.verify(r.TLS.PeerCertificates); err != nil {
		return nil, false, fmt.Errorf("x509: client certificate %q: %w", leaf.Subject.CommonName, err)
	}
	if leaf.IsCA {
		// Only the CA key's holder could present it; it names no user.
		return nil, false, errors.New("x509: a CA certificate is not a client identity")
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, errors.New("x509: client certificate has no common name")
	}
	groups := withGroup(slices.Clone(leaf.Subject.Organization), GroupAuthenticated)
	return &User{Name: leaf.Subject.CommonName, Groups: groups}, true, nil
}

// verify checks that certs[0] chains to Pool through certs[1:] for client
// authentication, from the cache when it can.
func (a *X509Authenticator) verify(certs []*x509.Certificate) error {
	now := time.Now()
	var key [sha256.Size]byte
	if a.verified != nil {
		key = chainKey(certs)
		a.verified.mu.Lock()
		until, ok := a.verified.m[key]
		a.verified.mu.Unlock()
		if ok && now.Before(until) {
			return nil
		}
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         a.Pool,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   now,
	})
	if err != nil || a.verified == nil {
		return err
	}
	until := certs[0].NotAfter
	for _, chain := range chains {
		for _, c := range chain {
			if c.NotAfter.Before(until) {
				until = c.NotAfter
			}
		}
	}
	a.verified.mu.Lock()
	if len(a.verified.m) >= maxVerifiedCerts {
		clear(a.verified.m)
	}
	a.verified.m[key] = until
	a.verified.mu.Unlock()
	return nil
}

// ServerTLSConfig is the API server's TLS configuration: it serves
// serving, speaks TLS 1.2 or newer with HTTP/2 preferred, and asks clients
// for a certificate signed by ca without requiring one (token clients
// have none). Certificates from any other CA fail the handshake.
func ServerTLSConfig(serving tls.Certificate, ca *CA) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{serving},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.Pool(),
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}
