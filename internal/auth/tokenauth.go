package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
)

// TokenAuthenticator authenticates "Authorization: Bearer <token>" against
// a set of known tokens: the join token and static tokens from a token
// file. Every known token is compared in constant time (on SHA-256
// digests, so not even a token's length leaks), whether or not an earlier
// one matched. Safe for concurrent use.
type TokenAuthenticator struct {
	mu      sync.RWMutex
	entries []tokenEntry
}

type tokenEntry struct {
	digest [sha256.Size]byte
	user   *User
}

var _ Authenticator = (*TokenAuthenticator)(nil)

var errInvalidToken = errors.New("invalid bearer token")

// NewTokenAuthenticator returns an authenticator that knows no tokens.
func NewTokenAuthenticator() *TokenAuthenticator { return &TokenAuthenticator{} }

// Add makes token authenticate as u (a copy, with GroupAuthenticated
// added), replacing what token meant before. An empty token or a nil
// user is ignored.
func (a *TokenAuthenticator) Add(token string, u *User) {
	if token == "" || u == nil {
		return
	}
	u = u.clone()
	u.Groups = withGroup(u.Groups, GroupAuthenticated)
	e := tokenEntry{digest: sha256.Sum256([]byte(token)), user: u}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.entries {
		if a.entries[i].digest == e.digest {
			a.entries[i] = e
			return
		}
	}
	a.entries = append(a.entries, e)
}

// AddJoinToken makes the join token authenticate as t.User(), sent either
// as "<id>.<secret>" or in its full K10 form.
func (a *TokenAuthenticator) AddJoinToken(t JoinToken) {
	a.Add(t.Secret(), t.User())
	if t.CAHash != "" {
		a.Add(t.String(), t.User())
	}
}

// LoadFile adds the tokens of a static token file, the format of
// Kubernetes' --token-auth-file: CSV lines of
//
//	token,user,uid[,"group1,group2,..."]
//
// Columns after the fourth are ignored, as are blank lines and lines
// starting with '#'. On error nothing is added.
func (a *TokenAuthenticator) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tokens, users, err := parseTokenFile(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i := range tokens {
		a.Add(tokens[i], users[i])
	}
	return nil
}

func parseTokenFile(r io.Reader) (tokens []string, users []*User, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return tokens, users, nil
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) < 3 || rec[0] == "" || rec[1] == "" {
			return nil, nil, fmt.Errorf("line %d: want token,user,uid[,groups] with a token and a user", line)
		}
		u := &User{Name: rec[1], UID: rec[2]}
		if len(rec) > 3 {
			for g := range strings.SplitSeq(rec[3], ",") {
				if g = strings.TrimSpace(g); g != "" {
					u.Groups = withGroup(u.Groups, g)
				}
			}
		}
		tokens, users = append(tokens, rec[0]), append(users, u)
	}
}

// AuthenticateRequest: no bearer token is !ok; a bearer token that is not
// known is an error.
func (a *TokenAuthenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, false, nil
	}
	digest := sha256.Sum256([]byte(token))
	a.mu.RLock()
	var found *User
	for _, e := range a.entries {
		if subtle.ConstantTimeCompare(e.digest[:], digest[:]) == 1 {
			found = e.user
		}
	}
	a.mu.RUnlock()
	if found == nil {
		return nil, false, errInvalidToken
	}
	return found.clone(), true, nil
}

// bearerToken returns the token of an "Authorization: Bearer" header; the
// scheme is case-insensitive (RFC 7235).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
