package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// objects is a ServiceAccountTokenGetter over a fixed set of objects.
type objects struct {
	sas     map[string]*corev1.ServiceAccount
	pods    map[string]*corev1.Pod
	secrets map[string]*corev1.Secret
	nodes   map[string]*corev1.Node
}

func notFound(kind, key string) error { return fmt.Errorf("%s %q not found", kind, key) }

func (o *objects) GetServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if sa, ok := o.sas[ns+"/"+name]; ok {
		return sa, nil
	}
	return nil, notFound("serviceaccount", ns+"/"+name)
}

func (o *objects) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if p, ok := o.pods[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, notFound("pod", ns+"/"+name)
}

func (o *objects) GetSecret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	if s, ok := o.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, notFound("secret", ns+"/"+name)
}

func (o *objects) GetNode(_ context.Context, name string) (*corev1.Node, error) {
	if n, ok := o.nodes[name]; ok {
		return n, nil
	}
	return nil, notFound("node", name)
}

func meta(ns, name, uid string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)}
}

func newTestObjects() *objects {
	return &objects{
		sas:     map[string]*corev1.ServiceAccount{"ns1/sa": {ObjectMeta: meta("ns1", "sa", "sa-uid")}},
		pods:    map[string]*corev1.Pod{"ns1/pod": {ObjectMeta: meta("ns1", "pod", "pod-uid")}},
		secrets: map[string]*corev1.Secret{"ns1/secret": {ObjectMeta: meta("ns1", "secret", "secret-uid")}},
		nodes:   map[string]*corev1.Node{"node1": {ObjectMeta: meta("", "node1", "node-uid")}},
	}
}

func newTestTokens(t *testing.T) *ServiceAccountTokens {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := NewServiceAccountTokens(key, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func podSpec() TokenSpec {
	return TokenSpec{Namespace: "ns1", Name: "sa", UID: "sa-uid", Audiences: []string{DefaultServiceAccountIssuer},
		Expiration: time.Hour, Pod: &ObjectRef{Name: "pod", UID: "pod-uid"}, Node: &ObjectRef{Name: "node1", UID: "node-uid"}}
}

func bearer(token string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "/api", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestServiceAccountTokenClaims(t *testing.T) {
	tokens := newTestTokens(t)
	now := time.Unix(1_700_000_000, 0)
	spec := podSpec()
	spec.WarnAfter = now.Add(3607 * time.Second)
	token, _, err := tokens.Issue(now, spec)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", token)
	}
	var header map[string]any
	headerJSON, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(headerJSON, &header); err != nil || header["alg"] != "ES256" || header["kid"] == "" {
		t.Errorf("header = %s (%v)", headerJSON, err)
	}
	var claims map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": DefaultServiceAccountIssuer,
		"sub": "system:serviceaccount:ns1:sa",
		"aud": []any{DefaultServiceAccountIssuer},
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
		"kubernetes.io": map[string]any{
			"namespace":      "ns1",
			"serviceaccount": map[string]any{"name": "sa", "uid": "sa-uid"},
			"pod":            map[string]any{"name": "pod", "uid": "pod-uid"},
			"node":           map[string]any{"name": "node1", "uid": "node-uid"},
			"warnafter":      float64(now.Add(3607 * time.Second).Unix()),
		},
	}
	jti, _ := claims["jti"].(string)
	delete(claims, "jti")
	if jti == "" {
		t.Error("no jti")
	}
	gotJSON, _ := json.Marshal(claims)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("claims\n got %s\nwant %s", gotJSON, wantJSON)
	}

	a := &ServiceAccountAuthenticator{Tokens: tokens, Getter: newTestObjects(), Now: func() time.Time { return now.Add(time.Minute) }}
	u, ok, err := a.AuthenticateRequest(bearer(token))
	if err != nil || !ok {
		t.Fatalf("AuthenticateRequest = %v, %v", ok, err)
	}
	if u.Name != "system:serviceaccount:ns1:sa" || u.UID != "sa-uid" ||
		!slices.Equal(u.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"}) {
		t.Errorf("user = %+v", u)
	}
	wantExtra := map[string][]string{
		ExtraPodName: {"pod"}, ExtraPodUID: {"pod-uid"}, ExtraNodeName: {"node1"}, ExtraNodeUID: {"node-uid"},
		ExtraCredentialID: {"JTI=" + jti},
	}
	gotExtra, _ := json.Marshal(u.Extra)
	wantExtraJSON, _ := json.Marshal(wantExtra)
	if string(gotExtra) != string(wantExtraJSON) {
		t.Errorf("extra = %s, want %s", gotExtra, wantExtraJSON)
	}
}

func TestServiceAccountTokenRejected(t *testing.T) {
	tokens := newTestTokens(t)
	now := time.Unix(1_700_000_000, 0)
	issue := func(mod func(*TokenSpec)) string {
		spec := podSpec()
		if mod != nil {
			mod(&spec)
		}
		token, _, err := tokens.Issue(now, spec)
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	good := issue(nil)
	deleting := metav1.NewTime(now.Add(-2 * time.Minute))
	graceful := metav1.NewTime(now.Add(30 * time.Second))
	cases := []struct {
		name  string
		token string
		at    time.Time
		mod   func(*objects)
		want  string // "" = accepted
	}{
		{name: "valid", token: good, at: now},
		{name: "expired", token: good, at: now.Add(time.Hour + 2*time.Minute), want: "expired"},
		{name: "within the leeway after expiry", token: good, at: now.Add(time.Hour + 30*time.Second)},
		{name: "not yet valid", token: good, at: now.Add(-2 * time.Minute), want: "not valid yet"},
		{name: "wrong audience", token: issue(func(s *TokenSpec) { s.Audiences = []string{"vault"} }), at: now, want: "audiences"},
		{name: "one of the audiences is the API's", token: issue(func(s *TokenSpec) {
			s.Audiences = []string{"vault", DefaultServiceAccountIssuer}
		}), at: now},
		{name: "wrong signature", token: tamper(good), at: now, want: "signature"},
		{name: "signed by another key", token: issueWith(t, newTestTokens(t), now), at: now, want: "signature"},
		{name: "service account deleted", token: good, at: now, mod: func(o *objects) { delete(o.sas, "ns1/sa") }, want: "not found"},
		{name: "service account recreated", token: good, at: now, mod: func(o *objects) {
			o.sas["ns1/sa"] = &corev1.ServiceAccount{ObjectMeta: meta("ns1", "sa", "new-uid")}
		}, want: "UID"},
		{name: "pod deleted", token: good, at: now, mod: func(o *objects) { delete(o.pods, "ns1/pod") }, want: "not found"},
		{name: "pod recreated with a new uid", token: good, at: now, mod: func(o *objects) {
			o.pods["ns1/pod"] = &corev1.Pod{ObjectMeta: meta("ns1", "pod", "pod-uid-2")}
		}, want: "UID"},
		{name: "pod past its grace period", token: good, at: now, mod: func(o *objects) {
			p := o.pods["ns1/pod"].DeepCopy()
			p.DeletionTimestamp = &deleting
			o.pods["ns1/pod"] = p
		}, want: "deleted"},
		{name: "pod in its grace period", token: good, at: now, mod: func(o *objects) {
			p := o.pods["ns1/pod"].DeepCopy()
			p.DeletionTimestamp = &graceful
			o.pods["ns1/pod"] = p
		}},
		{name: "pod-bound: the node is not looked up", token: good, at: now, mod: func(o *objects) { delete(o.nodes, "node1") }},
		{name: "secret recreated", token: issue(func(s *TokenSpec) {
			s.Pod, s.Node, s.Secret = nil, nil, &ObjectRef{Name: "secret", UID: "old"}
		}), at: now, want: "UID"},
		{name: "node deleted", token: issue(func(s *TokenSpec) {
			s.Pod, s.Node = nil, &ObjectRef{Name: "node1", UID: "node-uid"}
		}), at: now, mod: func(o *objects) { delete(o.nodes, "node1") }, want: "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := newTestObjects()
			if tc.mod != nil {
				tc.mod(objs)
			}
			a := &ServiceAccountAuthenticator{Tokens: tokens, Getter: objs, Now: func() time.Time { return tc.at }}
			u, ok, err := a.AuthenticateRequest(bearer(tc.token))
			if tc.want == "" {
				if !ok || err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if ok || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("= %v, %v, %v; want an error mentioning %q", u, ok, err, tc.want)
			}
		})
	}
}

// Tokens that are not this issuer's are left to other authenticators.
func TestServiceAccountTokenNotOurs(t *testing.T) {
	tokens := newTestTokens(t)
	a := &ServiceAccountAuthenticator{Tokens: tokens, Getter: newTestObjects()}
	other, err := NewServiceAccountTokens(mustKey(t), "https://other.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	otherToken, _, err := other.Issue(time.Now(), TokenSpec{Namespace: "ns1", Name: "sa", Audiences: []string{"x"}, Expiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"abcdef.0123456789abcdef", "not-a-jwt", otherToken} {
		if u, ok, err := a.AuthenticateRequest(bearer(token)); ok || err != nil {
			t.Errorf("%q: = %v, %v, %v; want not ours", token, u, ok, err)
		}
	}
	r, _ := http.NewRequest(http.MethodGet, "/api", nil)
	if _, ok, err := a.AuthenticateRequest(r); ok || err != nil {
		t.Errorf("no token: ok=%v err=%v", ok, err)
	}
}

func TestServiceAccountTokenRSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := NewServiceAccountTokens(key, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	token := issueWith(t, tokens, time.Now())
	a := &ServiceAccountAuthenticator{Tokens: tokens, Getter: newTestObjects()}
	if _, ok, err := a.AuthenticateRequest(bearer(token)); !ok || err != nil {
		t.Fatalf("RS256 token rejected: %v", err)
	}
	if _, ok, err := a.AuthenticateRequest(bearer(tamper(token))); ok || err == nil {
		t.Fatal("tampered RS256 token accepted")
	}
}

func TestEnsureServiceAccountKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := EnsureServiceAccountKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "sa.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sa.key: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sa.pub")); err != nil {
		t.Fatal(err)
	}
	k2, err := EnsureServiceAccountKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Public().(*ecdsa.PublicKey).Equal(k2.Public()) {
		t.Fatal("the key changed across restarts")
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureServiceAccountKey(dir); err == nil {
		t.Fatal("a corrupt sa.key was accepted (or silently replaced)")
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func issueWith(t *testing.T, tokens *ServiceAccountTokens, now time.Time) string {
	t.Helper()
	token, _, err := tokens.Issue(now, podSpec())
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// tamper changes the token's claims, keeping the signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"name":"sa"`, `"name":"sb"`, 1))
	payload = []byte(strings.Replace(string(payload), `ns1:sa"`, `ns1:sb"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}
