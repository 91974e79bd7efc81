package auth

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTokenAuthenticator(t *testing.T) {
	tok := JoinToken{CAHash: strings.Repeat("ab", 32), ID: "abcdef", Value: "0123456789abcdef"}
	a := NewTokenAuthenticator()
	a.AddJoinToken(tok)
	a.Add("static-secret", &User{Name: "alice", UID: "1", Groups: []string{"dev"}})
	a.Add("", &User{Name: "nobody"})

	for _, tc := range []struct {
		header   string
		wantUser string
		wantOK   bool
		wantErr  bool
	}{
		{"", "", false, false},
		{"Basic YWxpY2U6cHc=", "", false, false},
		{"Bearer", "", false, false},
		{"Bearer ", "", false, false},
		{"Bearer abcdef.0123456789abcdef", "system:bootstrap:abcdef", true, false},
		{"bearer abcdef.0123456789abcdef", "system:bootstrap:abcdef", true, false},
		{"BEARER  abcdef.0123456789abcdef ", "system:bootstrap:abcdef", true, false},
		{"Bearer " + tok.String(), "system:bootstrap:abcdef", true, false},
		{"Bearer static-secret", "alice", true, false},
		{"Bearer abcdef.0000000000000000", "", false, true},
		{"Bearer static-secreT", "", false, true},
		{"Bearer static-secret-longer", "", false, true},
		{"Bearer static", "", false, true},
	} {
		u, ok, err := a.AuthenticateRequest(requestWithHeader(tc.header))
		if ok != tc.wantOK || (err != nil) != tc.wantErr || (ok && u.Name != tc.wantUser) {
			t.Errorf("%q: got %+v ok=%v err=%v; want user %q ok=%v err=%v",
				tc.header, u, ok, err, tc.wantUser, tc.wantOK, tc.wantErr)
		}
		if ok && !u.InGroup(GroupAuthenticated) {
			t.Errorf("%q: %v lacks %s", tc.header, u.Groups, GroupAuthenticated)
		}
	}

	// The caller owns what it gets: changing it changes nothing stored.
	u, _, _ := a.AuthenticateRequest(requestWithHeader("Bearer static-secret"))
	u.Groups[0] = GroupMasters
	u2, _, _ := a.AuthenticateRequest(requestWithHeader("Bearer static-secret"))
	if u2.InGroup(GroupMasters) {
		t.Fatal("a caller's change leaked into the stored user")
	}

	// Add replaces.
	a.Add("static-secret", &User{Name: "bob"})
	if u, _, _ := a.AuthenticateRequest(requestWithHeader("Bearer static-secret")); u.Name != "bob" {
		t.Errorf("after replacing: %s", u.Name)
	}
}

func TestTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	os.WriteFile(path, []byte(`# token,user,uid,groups
secret1,alice,uid1,"dev,ops"
secret2, bob ,uid2

secret3,carol,,"", extra
secret4,dave,uid4,"dev, ,dev"
`), 0o600)
	a := NewTokenAuthenticator()
	if err := a.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]User{
		"secret1": {Name: "alice", UID: "uid1", Groups: []string{"dev", "ops", GroupAuthenticated}},
		"secret2": {Name: "bob", UID: "uid2", Groups: []string{GroupAuthenticated}},
		"secret3": {Name: "carol", Groups: []string{GroupAuthenticated}},
		"secret4": {Name: "dave", UID: "uid4", Groups: []string{"dev", GroupAuthenticated}},
	} {
		u, ok, err := a.AuthenticateRequest(requestWithHeader("Bearer " + token))
		if !ok || err != nil || u.Name != want.Name || u.UID != want.UID || !slices.Equal(u.Groups, want.Groups) {
			t.Errorf("%s: got %+v %v %v, want %+v", token, u, ok, err, want)
		}
	}

	for name, content := range map[string]string{
		"too few columns": "secret,alice\n",
		"no token":        ",alice,uid\n",
		"no user":         "secret,,uid\n",
		"bad quoting":     "secret,\"alice,uid\n",
	} {
		os.WriteFile(path, []byte("good,gina,1\n"+content), 0o600)
		b := NewTokenAuthenticator()
		if err := b.LoadFile(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, ok, _ := b.AuthenticateRequest(requestWithHeader("Bearer good")); ok {
			t.Errorf("%s: a file with errors added tokens", name)
		}
	}
	if err := NewTokenAuthenticator().LoadFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
