package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
// configurations that only request a certificate.
type X509Authenticator struct {
	Pool *x509.CertPool
}

var _ Authenticator = X509Authenticator{}

// NewX509Authenticator returns an X509Authenticator for pool.
func NewX509Authenticator(pool *x509.CertPool) Authenticator { return X509Authenticator{Pool: pool} }

func (a X509Authenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	if a.Pool == nil {
		return nil, false, errors.New("x509: no client CA configured")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.Pool,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
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
