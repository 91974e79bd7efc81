package auth

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestJoinTokenCreatedAndPersisted(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	tok, err := EnsureJoinToken(dir, ca)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(tok.String()) {
		t.Fatalf("token %q has the wrong shape", tok)
	}
	if "sha256:"+tok.CAHash != ca.Hash() || !tok.MatchesCA(ca.Cert) {
		t.Error("token does not pin the CA")
	}
	if m := fileMode(t, filepath.Join(dir, "token")); m != 0o600 {
		t.Errorf("token file mode %v", m)
	}
	again, err := EnsureJoinToken(dir, ca)
	if err != nil || again != tok {
		t.Fatalf("token not reused: %v %v", again, err)
	}
	if other, _ := EnsureJoinToken(t.TempDir(), ca); other.Secret() == tok.Secret() {
		t.Error("two directories produced the same secret")
	}
}

func TestJoinTokenFileForms(t *testing.T) {
	dir := t.TempDir()
	ca := mustCA(t, dir)
	path := filepath.Join(dir, "token")

	// An admin-chosen bare token gets the CA hash and keeps its credential.
	os.WriteFile(path, []byte("abcdef.0123456789abcdef\n"), 0o600)
	tok, err := EnsureJoinToken(dir, ca)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Secret() != "abcdef.0123456789abcdef" || !tok.MatchesCA(ca.Cert) {
		t.Fatalf("got %+v", tok)
	}
	if data, _ := os.ReadFile(path); strings.TrimSpace(string(data)) != tok.String() {
		t.Errorf("file not updated to the full form: %q", data)
	}

	// A new CA: the hash follows it, the credential stays.
	newCA := mustCA(t, t.TempDir())
	moved, err := EnsureJoinToken(dir, newCA)
	if err != nil || moved.Secret() != tok.Secret() || !moved.MatchesCA(newCA.Cert) || moved.MatchesCA(ca.Cert) {
		t.Fatalf("after CA change: %+v %v", moved, err)
	}

	os.WriteFile(path, []byte("not a token"), 0o600)
	if _, err := EnsureJoinToken(dir, ca); !errors.Is(err, ErrMalformedJoinToken) {
		t.Errorf("malformed token file: err = %v", err)
	}
}

func TestParseJoinToken(t *testing.T) {
	hash := strings.Repeat("0123456789abcdef", 4)
	full := "K10" + hash + "::abcdef.0123456789abcdef"
	tok, err := ParseJoinToken(" " + full + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if tok != (JoinToken{CAHash: hash, ID: "abcdef", Value: "0123456789abcdef"}) || tok.String() != full {
		t.Fatalf("parsed %+v, String %q", tok, tok)
	}
	bare, err := ParseJoinToken("abcdef.0123456789abcdef")
	if err != nil || bare.CAHash != "" || bare.Secret() != "abcdef.0123456789abcdef" {
		t.Fatalf("bare: %+v %v", bare, err)
	}
	if bare.MatchesCA(mustCA(t, t.TempDir()).Cert) {
		t.Error("a token without a hash matched a CA")
	}
	u := tok.User()
	if u.Name != "system:bootstrap:abcdef" ||
		strings.Join(u.Groups, ",") != "system:bootstrappers,system:bootstrappers:skiff:default-node-token,system:authenticated" {
		t.Errorf("user %+v", u)
	}

	for _, bad := range []string{
		"",
		"abc",
		"abcdef.",
		".0123456789abcdef",
		"abcdef0123456789abcdef",
		"ABCDEF.0123456789abcdef",                       // upper case
		"abcdef.0123456789ABCDEF",                       // upper case
		"abcde.0123456789abcdef",                        // short id
		"abcdefg.0123456789abcdef",                      // long id
		"abcdef.0123456789abcde",                        // short secret
		"abcdef.0123456789abcdefg",                      // long secret
		"abc-ef.0123456789abcdef",                       // punctuation
		"abcdef.0123456789abcdef.x",                     // extra part
		"abcdef 0123456789abcdef",                       // wrong separator
		"K10::abcdef.0123456789abcdef",                  // no hash
		"K10zz::abcdef.0123456789abcdef",                // hash not hex
		"K10" + hash + "abcdef.0123456789abcdef",        // no ::
		"K10" + hash + ":abcdef.0123456789abcdef",       // single :
		"K10" + hash[:63] + "::abcdef.0123456789abcdef", // short hash
		"K10" + strings.ToUpper(hash) + "::abcdef.0123456789abcdef", // upper hex
		"K10" + hash + "::server:abcdef.0123456789abcdef",           // k3s user:password form
		"K10" + hash + "::",
	} {
		if got, err := ParseJoinToken(bad); err == nil {
			t.Errorf("ParseJoinToken(%q) = %+v, want error", bad, got)
		} else if !errors.Is(err, ErrMalformedJoinToken) {
			t.Errorf("ParseJoinToken(%q): error %v does not wrap ErrMalformedJoinToken", bad, err)
		}
	}
}

func TestRandomTokenChars(t *testing.T) {
	seen := map[byte]bool{}
	for range 200 {
		s := randomTokenChars(16)
		if len(s) != 16 || !isTokenChars(s) {
			t.Fatalf("randomTokenChars = %q", s)
		}
		for i := range len(s) {
			seen[s[i]] = true
		}
	}
	if len(seen) != len(tokenAlphabet) {
		t.Errorf("3200 characters used only %d of %d symbols", len(seen), len(tokenAlphabet))
	}
}
