package auth

import (
	"context"
	"errors"
	"testing"
)

type fixedAuthz struct {
	d      Decision
	reason string
	err    error
}

func (f fixedAuthz) Authorize(context.Context, Attributes) (Decision, string, error) {
	return f.d, f.reason, f.err
}

func TestAlwaysAllow(t *testing.T) {
	d, _, err := AlwaysAllow{}.Authorize(context.Background(), Attributes{User: &User{Name: "u"}, Verb: "delete", Resource: "pods"})
	if d != DecisionAllow || err != nil {
		t.Fatalf("%v %v", d, err)
	}
}

func TestUnionAuthorizer(t *testing.T) {
	boom := errors.New("boom")
	allow, deny := fixedAuthz{d: DecisionAllow, reason: "ok"}, fixedAuthz{d: DecisionDeny, reason: "no"}
	pass := fixedAuthz{d: DecisionNoOpinion, reason: "not mine"}
	for _, tc := range []struct {
		name       string
		as         []Authorizer
		want       Decision
		wantReason string
		wantErr    bool
	}{
		{"empty", nil, DecisionNoOpinion, "no authorizer allowed the request", false},
		{"allow", []Authorizer{allow, deny}, DecisionAllow, "ok", false},
		{"deny first", []Authorizer{deny, allow}, DecisionDeny, "no", false},
		{"no opinion passes on", []Authorizer{pass, nil, allow}, DecisionAllow, "ok", false},
		{"error passes on", []Authorizer{fixedAuthz{err: boom}, deny}, DecisionDeny, "no", false},
		{"all pass", []Authorizer{pass, fixedAuthz{d: DecisionNoOpinion}}, DecisionNoOpinion, "not mine", false},
		{"error and pass", []Authorizer{fixedAuthz{err: boom}, pass}, DecisionNoOpinion, "not mine", true},
	} {
		d, reason, err := UnionAuthorizer(tc.as...).Authorize(context.Background(), Attributes{})
		if d != tc.want || reason != tc.wantReason || (err != nil) != tc.wantErr {
			t.Errorf("%s: %v %q %v, want %v %q err=%v", tc.name, d, reason, err, tc.want, tc.wantReason, tc.wantErr)
		}
		if tc.wantErr && !errors.Is(err, boom) {
			t.Errorf("%s: err %v does not wrap the authorizer's", tc.name, err)
		}
	}
	// Unions nest: an inner union with no opinion leaves the outer to go on.
	inner := UnionAuthorizer(pass)
	if d, _, _ := UnionAuthorizer(inner, allow).Authorize(context.Background(), Attributes{}); d != DecisionAllow {
		t.Errorf("nested: %v", d)
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{DecisionDeny: "Deny", DecisionAllow: "Allow", DecisionNoOpinion: "NoOpinion", 7: "Decision(7)"} {
		if d.String() != want {
			t.Errorf("%d: %q", int(d), d.String())
		}
	}
}
