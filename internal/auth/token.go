package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// JoinToken lets a node join: `K10<ca hash>::<id>.<secret>`. The CA hash
// lets the joining node pin the server's CA before trusting it (as
// kubeadm's --discovery-token-ca-cert-hash does); id.secret is the bearer
// credential (as a kubeadm bootstrap token).
type JoinToken struct {
	CAHash string // hex SHA-256 of the CA's SubjectPublicKeyInfo
	ID     string // 6 chars [a-z0-9]
	Value  string // 16 chars [a-z0-9]
}

var (
	tokenPart = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	hexHash   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// String is the full token as users pass it to `skiff agent --token`.
func (t JoinToken) String() string { return "K10" + t.CAHash + "::" + t.Secret() }

// Secret is the id.secret part sent as a bearer token.
func (t JoinToken) Secret() string { return t.ID + "." + t.Value }

// ParseJoinToken parses the full form or the bare id.secret.
func ParseJoinToken(s string) (JoinToken, error) {
	s = strings.TrimSpace(s)
	var t JoinToken
	if strings.HasPrefix(s, "K10") {
		hash, rest, ok := strings.Cut(strings.TrimPrefix(s, "K10"), "::")
		if !ok || !hexHash.MatchString(hash) {
			return t, errors.New("join token: malformed CA hash (want K10<64 hex>::<id>.<secret>)")
		}
		t.CAHash, s = hash, rest
	}
	m := tokenPart.FindStringSubmatch(s)
	if m == nil {
		return JoinToken{}, errors.New("join token: malformed (want <6 chars>.<16 chars>, lowercase letters and digits)")
	}
	t.ID, t.Value = m[1], m[2]
	return t, nil
}

// EnsureJoinToken loads dir/token or creates it (0600).
func EnsureJoinToken(dir string, ca *CA) (JoinToken, error) {
	path := filepath.Join(dir, "token")
	if data, err := os.ReadFile(path); err == nil {
		t, err := ParseJoinToken(string(data))
		if err != nil {
			return t, fmt.Errorf("%s: %w", path, err)
		}
		return t, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return JoinToken{}, err
	}
	t := JoinToken{CAHash: strings.TrimPrefix(ca.Hash(), "sha256:"), ID: randomToken(6), Value: randomToken(16)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return t, err
	}
	return t, os.WriteFile(path, []byte(t.String()+"\n"), 0o600)
}

func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
