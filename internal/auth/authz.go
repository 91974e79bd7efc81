package auth

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Attributes describe a request to authorize, as the API server parsed it.
//
// For a resource request (ResourceRequest=true) Verb is the Kubernetes
// verb (get, list, watch, create, update, patch, delete, deletecollection,
// ...) and APIGroup ("" for core), APIVersion, Resource, Subresource,
// Namespace and Name locate the object. Otherwise Verb is the lower-case
// HTTP method and Path the URL path (/healthz, /version, /apis, ...).
type Attributes struct {
	User *User

	Verb            string
	Namespace       string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Name            string
	Path            string
	ResourceRequest bool
}

// Decision is an authorizer's answer.
type Decision int

const (
	// DecisionDeny forbids the request; later authorizers are not asked.
	DecisionDeny Decision = iota
	// DecisionAllow permits the request; later authorizers are not asked.
	DecisionAllow
	// DecisionNoOpinion leaves the request to later authorizers.
	DecisionNoOpinion
)

func (d Decision) String() string {
	switch d {
	case DecisionDeny:
		return "Deny"
	case DecisionAllow:
		return "Allow"
	case DecisionNoOpinion:
		return "NoOpinion"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// Authorizer decides whether a.User may do what a describes. The reason
// (may be empty) explains the decision to the user in a 403. An error
// means the authorizer could not decide (its decision is then taken as no
// opinion). The API server lets a request through only on DecisionAllow.
//
// Implementations: AlwaysAllow now; RBAC later.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (d Decision, reason string, err error)
}

// AlwaysAllow allows every request. The API server authorizes only
// requests that passed authentication, so with AlwaysAllow every
// authenticated user may do everything; it stands in until RBAC exists.
type AlwaysAllow struct{}

var _ Authorizer = AlwaysAllow{}

func (AlwaysAllow) Authorize(context.Context, Attributes) (Decision, string, error) {
	return DecisionAllow, "", nil
}

// UnionAuthorizer asks each authorizer in order: the first Allow or Deny
// decides. An authorizer's error counts as no opinion, so a later one may
// still decide; if none decides, the result is DecisionNoOpinion with the
// errors joined. (Named apart from Union, which joins authenticators.)
func UnionAuthorizer(as ...Authorizer) Authorizer { return unionAuthz(slices.Clone(as)) }

type unionAuthz []Authorizer

func (u unionAuthz) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var errs []error
	var reasons []string
	for _, z := range u {
		if z == nil {
			continue
		}
		d, reason, err := z.Authorize(ctx, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d == DecisionAllow || d == DecisionDeny {
			return d, reason, nil
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
	}
	reason := "no authorizer allowed the request"
	if len(reasons) > 0 {
		reason = strings.Join(reasons, "; ")
	}
	return DecisionNoOpinion, reason, errors.Join(errs...)
}
