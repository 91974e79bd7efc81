package storage

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// continueVersion versions the continue token's JSON.
const continueVersion = "meta.k8s.io/v1"

// continueToken is the decoded form of a list's continue string: the
// revision the paged list reads at and the key (relative to the listed
// prefix) the next page starts at. Clients treat it as opaque.
type continueToken struct {
	Version  string `json:"v"`
	Revision int64  `json:"rv"`
	StartKey string `json:"start"`
}

// encodeContinue returns the token for a next page at rev starting at key,
// which must lie under prefix.
func encodeContinue(key, prefix string, rev int64) (string, error) {
	if len(key) < len(prefix) || key[:len(prefix)] != prefix {
		return "", fmt.Errorf("storage: continue key %q is not under prefix %q", key, prefix)
	}
	raw, err := json.Marshal(continueToken{Version: continueVersion, Revision: rev, StartKey: key[len(prefix):]})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// decodeContinue parses token and returns the revision and the absolute
// key the next page starts at.
func decodeContinue(token, prefix string) (rev int64, startKey string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", fmt.Errorf("%w: not base64: %v", ErrInvalidContinue, err)
	}
	var t continueToken
	if err := json.Unmarshal(raw, &t); err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrInvalidContinue, err)
	}
	switch {
	case t.Version != continueVersion:
		return 0, "", fmt.Errorf("%w: unknown version %q", ErrInvalidContinue, t.Version)
	case t.Revision <= 0:
		return 0, "", fmt.Errorf("%w: revision %d", ErrInvalidContinue, t.Revision)
	case t.StartKey == "":
		return 0, "", fmt.Errorf("%w: no start key", ErrInvalidContinue)
	}
	return t.Revision, prefix + t.StartKey, nil
}
