package auth

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Authenticator recognises a request's credentials. ok=false means the
// request carries none this authenticator understands; err means it
// carries some and they are bad.
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (u *User, ok bool, err error)
}

type userKey struct{}

// WithUser stores u in ctx.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user stored by WithUser.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok
}

const groupAuthenticated = "system:authenticated"

// x509Authenticator accepts client certificates signed by the cluster CA:
// the user is the subject's CN, the groups its O values.
type x509Authenticator struct{ pool *x509.CertPool }

// NewX509Authenticator authenticates client certificates chained to pool.
func NewX509Authenticator(pool *x509.CertPool) Authenticator { return x509Authenticator{pool: pool} }

func (a x509Authenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, false, fmt.Errorf("verifying client certificate: %w", err)
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, errors.New("client certificate has no common name")
	}
	groups := append(append([]string{}, leaf.Subject.Organization...), groupAuthenticated)
	return &User{Name: leaf.Subject.CommonName, Groups: groups}, true, nil
}

// TokenAuthenticator accepts `Authorization: Bearer <token>` for a set of
// known tokens. Safe for concurrent use.
type TokenAuthenticator struct {
	mu     sync.RWMutex
	tokens map[string]*User
}

// NewTokenAuthenticator returns an authenticator with no tokens.
func NewTokenAuthenticator() *TokenAuthenticator {
	return &TokenAuthenticator{tokens: map[string]*User{}}
}

// Add registers token for u.
func (a *TokenAuthenticator) Add(token string, u *User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens[token] = u
}

// AddJoinToken registers a node join token: it authenticates as
// system:bootstrap:<id>, as kubeadm's bootstrap tokens do.
func (a *TokenAuthenticator) AddJoinToken(t JoinToken) {
	a.Add(t.Secret(), &User{Name: "system:bootstrap:" + t.ID,
		Groups: []string{"system:bootstrappers", "system:bootstrappers:skiff:default-node-token", groupAuthenticated}})
	a.Add(t.String(), a.tokens[t.Secret()])
}

// LoadFile reads a static token file (upstream's --token-auth-file CSV:
// token,user,uid,"group1,group2").
func (a *TokenAuthenticator) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(rec) < 3 || rec[0] == "" || rec[1] == "" {
			return fmt.Errorf("%s:%d: want token,user,uid[,groups]", path, line)
		}
		u := &User{Name: rec[1], UID: rec[2], Groups: []string{groupAuthenticated}}
		if len(rec) > 3 && rec[3] != "" {
			u.Groups = append(strings.Split(rec[3], ","), groupAuthenticated)
		}
		a.Add(rec[0], u)
	}
}

func (a *TokenAuthenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return nil, false, nil
	}
	token := strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	a.mu.RLock()
	defer a.mu.RUnlock()
	for known, u := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(known), []byte(token)) == 1 {
			return u, true, nil
		}
	}
	return nil, false, errors.New("invalid bearer token")
}

// Union tries each authenticator in turn; the first to recognise the
// request decides.
func Union(as ...Authenticator) Authenticator { return union(as) }

type union []Authenticator

func (u union) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	var errs []error
	for _, a := range u {
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

// ServerTLSConfig serves cert and asks (without requiring) for client
// certificates from the cluster CA.
func ServerTLSConfig(cert tls.Certificate, ca *CA) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.Pool(),
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}
