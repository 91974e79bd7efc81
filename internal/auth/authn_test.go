package auth

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestX509Authenticator(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	// Without and with the cache of verified chains; each twice, so the
	// second pass of the cached one answers from the cache.
	for _, a := range []*X509Authenticator{{Pool: ca.Pool()}, NewX509Authenticator(ca.Pool()).(*X509Authenticator)} {
		for range 2 {
			checkX509Authenticator(t, dir, ca, a)
		}
	}
}

func checkX509Authenticator(t *testing.T, dir string, ca *CA, a *X509Authenticator) {
	t.Helper()

	if u, ok, err := a.AuthenticateRequest(requestWithHeader("")); ok || err != nil || u != nil {
		t.Errorf("plain HTTP: %v %v %v", u, ok, err)
	}
	if _, ok, err := a.AuthenticateRequest(requestWithCert()); ok || err != nil {
		t.Errorf("TLS without certificate: %v %v", ok, err)
	}

	admin := clientCert(t, ca, AdminUser, GroupMasters)
	u, ok, err := a.AuthenticateRequest(requestWithCert(admin.Leaf))
	if !ok || err != nil {
		t.Fatalf("admin: %v %v", ok, err)
	}
	if u.Name != AdminUser || !slices.Equal(u.Groups, []string{GroupMasters, GroupAuthenticated}) {
		t.Errorf("admin is %+v", u)
	}
	node := clientCert(t, ca, NodeUser("n1"), GroupNodes, GroupAuthenticated)
	if u, _, _ := a.AuthenticateRequest(requestWithCert(node.Leaf)); !slices.Equal(u.Groups, []string{GroupNodes, GroupAuthenticated}) {
		t.Errorf("groups %v: %s repeated or missing", u.Groups, GroupAuthenticated)
	}

	serving := mustServing(t, dir, ca, []string{"localhost"}, nil)
	other := mustCA(t, t.TempDir())
	for name, c := range map[string]*x509.Certificate{
		"another CA":       clientCert(t, other, AdminUser, GroupMasters).Leaf,
		"serving cert":     serving.Leaf,
		"no common name":   clientCertNoCN(t, ca),
		"the CA itself":    ca.Cert,
		"other CA's chain": other.Cert,
	} {
		if u, ok, err := a.AuthenticateRequest(requestWithCert(c)); ok || err == nil {
			t.Errorf("%s: got %+v ok=%v err=%v, want an error", name, u, ok, err)
		}
	}
	if _, ok, err := (&X509Authenticator{}).AuthenticateRequest(requestWithCert(admin.Leaf)); ok || err == nil {
		t.Error("authenticator without a pool accepted a certificate")
	}
}

// A cached verification ends when the certificate expires.
func TestX509AuthenticatorCacheExpiry(t *testing.T) {
	ca := mustCA(t, t.TempDir())
	a := NewX509Authenticator(ca.Pool())
	c := clientCert(t, ca, "placeholder")
	notAfter := time.Now().Add(1500 * time.Millisecond)
	certPEM, _, err := ca.Sign(&x509.Certificate{NotAfter: notAfter, Subject: pkix.Name{CommonName: "short-lived"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, c.Leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	short := mustParseCert(t, certPEM)
	if _, ok, err := a.AuthenticateRequest(requestWithCert(short)); !ok || err != nil {
		t.Fatalf("fresh certificate: %v %v", ok, err)
	}
	time.Sleep(time.Until(short.NotAfter) + 100*time.Millisecond)
	if _, ok, err := a.AuthenticateRequest(requestWithCert(short)); ok || err == nil {
		t.Fatal("an expired certificate authenticated from the cache")
	}
}

func clientCertNoCN(t *testing.T, ca *CA) *x509.Certificate {
	t.Helper()
	c := clientCert(t, ca, "placeholder")
	certPEM, _, err := ca.Sign(&x509.Certificate{NotAfter: c.Leaf.NotAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, c.Leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return mustParseCert(t, certPEM)
}

type fakeAuthn struct {
	u   *User
	ok  bool
	err error
}

func (f fakeAuthn) AuthenticateRequest(*http.Request) (*User, bool, error) { return f.u, f.ok, f.err }

func TestUnion(t *testing.T) {
	alice, bob := &User{Name: "alice"}, &User{Name: "bob"}
	errA, errB := errors.New("a"), errors.New("b")
	for _, tc := range []struct {
		name     string
		as       []Authenticator
		wantUser *User
		wantErrs []error
	}{
		{"empty", nil, nil, nil},
		{"none recognise", []Authenticator{fakeAuthn{}, nil, fakeAuthn{}}, nil, nil},
		{"first ok wins", []Authenticator{fakeAuthn{u: alice, ok: true}, fakeAuthn{u: bob, ok: true}}, alice, nil},
		{"errors do not stop", []Authenticator{fakeAuthn{err: errA}, fakeAuthn{u: bob, ok: true}}, bob, nil},
		{"errors joined", []Authenticator{fakeAuthn{err: errA}, fakeAuthn{}, fakeAuthn{err: errB}}, nil, []error{errA, errB}},
	} {
		u, ok, err := Union(tc.as...).AuthenticateRequest(requestWithHeader(""))
		if u != tc.wantUser || ok != (tc.wantUser != nil) {
			t.Errorf("%s: user %v ok %v", tc.name, u, ok)
		}
		if (err != nil) != (len(tc.wantErrs) > 0) {
			t.Errorf("%s: err %v", tc.name, err)
		}
		for _, want := range tc.wantErrs {
			if !errors.Is(err, want) {
				t.Errorf("%s: err %v lacks %v", tc.name, err, want)
			}
		}
	}
}

func TestUserContext(t *testing.T) {
	if _, ok := UserFrom(context.Background()); ok {
		t.Error("user in an empty context")
	}
	if _, ok := UserFrom(WithUser(context.Background(), nil)); ok {
		t.Error("nil user reported present")
	}
	u := &User{Name: "alice"}
	if got, ok := UserFrom(WithUser(context.Background(), u)); !ok || got != u {
		t.Errorf("got %v %v", got, ok)
	}
}
