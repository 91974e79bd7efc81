package auth

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// JoinToken lets a node join the cluster. Its full form is
//
//	K10<CA hash>::<id>.<secret>
//
// The CA hash (64 lowercase hex digits, CertHash without "sha256:") lets
// the joining node check the CA the server presents before trusting it,
// the job of kubeadm's --discovery-token-ca-cert-hash. <id>.<secret>
// (6 and 16 characters of [a-z0-9]) is the bearer credential, shaped like
// a kubeadm bootstrap token: the id names the token and may be logged, the
// secret may not.
type JoinToken struct {
	CAHash string // 64 lowercase hex digits; empty when parsed from the bare form
	ID     string // 6 characters [a-z0-9]
	Value  string // the secret: 16 characters [a-z0-9]
}

const (
	joinTokenPrefix = "K10"
	tokenIDLen      = 6
	tokenSecretLen  = 16
	caHashHexLen    = 64
)

// ErrMalformedJoinToken is wrapped by ParseJoinToken's errors.
var ErrMalformedJoinToken = errors.New("malformed join token")

// String is the full token as given to `skiff agent --token`. It contains
// the secret: do not log it.
func (t JoinToken) String() string { return joinTokenPrefix + t.CAHash + "::" + t.Secret() }

// Secret is "<id>.<secret>", the bearer token a joining node sends.
func (t JoinToken) Secret() string { return t.ID + "." + t.Value }

// User is the identity the token authenticates as.
func (t JoinToken) User() *User {
	return &User{
		Name:   BootstrapUserPrefix + t.ID,
		Groups: []string{GroupBootstrappers, GroupDefaultNodeToken, GroupAuthenticated},
	}
}

// MatchesCA reports whether cert is the CA the token pins. A token without
// a CA hash pins nothing and matches no CA.
func (t JoinToken) MatchesCA(cert *x509.Certificate) bool {
	return t.CAHash != "" && CertHash(cert) == "sha256:"+t.CAHash
}

// ParseJoinToken parses the full form K10<CA hash>::<id>.<secret> or the
// bare <id>.<secret> (then CAHash is empty). Surrounding white space is
// ignored; everything else must match exactly, in lowercase.
func ParseJoinToken(s string) (JoinToken, error) {
	s = strings.TrimSpace(s)
	var t JoinToken
	if rest, ok := strings.CutPrefix(s, joinTokenPrefix); ok {
		hash, cred, ok := strings.Cut(rest, "::")
		if !ok || len(hash) != caHashHexLen || !isLowerHex(hash) {
			return JoinToken{}, fmt.Errorf("%w: want K10<64 hex digits>::<id>.<secret>", ErrMalformedJoinToken)
		}
		t.CAHash, s = hash, cred
	}
	id, secret, ok := strings.Cut(s, ".")
	if !ok || len(id) != tokenIDLen || len(secret) != tokenSecretLen || !isTokenChars(id) || !isTokenChars(secret) {
		return JoinToken{}, fmt.Errorf("%w: want <6>.<16> characters of [a-z0-9]", ErrMalformedJoinToken)
	}
	t.ID, t.Value = id, secret
	return t, nil
}

// EnsureJoinToken returns the cluster's join token from dir/token, or
// creates one (file mode 0600). The file may hold the full or the bare
// form (an admin may choose the credential); the stored CA hash is brought
// in line with ca, keeping the credential.
func EnsureJoinToken(dir string, ca *CA) (JoinToken, error) {
	path := filepath.Join(dir, "token")
	hash := strings.TrimPrefix(ca.Hash(), "sha256:")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		t, err := ParseJoinToken(string(data))
		if err != nil {
			return JoinToken{}, fmt.Errorf("%s: %w", path, err)
		}
		if t.CAHash == hash {
			return t, nil
		}
		t.CAHash = hash
		return t, writeFileAtomic(path, []byte(t.String()+"\n"), 0o600)
	case errors.Is(err, os.ErrNotExist):
		t := JoinToken{CAHash: hash, ID: randomTokenChars(tokenIDLen), Value: randomTokenChars(tokenSecretLen)}
		return t, writeFileAtomic(path, []byte(t.String()+"\n"), 0o600)
	default:
		return JoinToken{}, err
	}
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomTokenChars returns n uniformly random characters of tokenAlphabet.
func randomTokenChars(n int) string {
	// Bytes >= 252 are dropped so that byte%36 is uniform.
	const limit = 256 - 256%len(tokenAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand since Go 1.24)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, tokenAlphabet[int(b)%len(tokenAlphabet)])
			}
		}
	}
	return string(out)
}

func isTokenChars(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'f' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
