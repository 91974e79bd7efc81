package auth

import "context"

// Attributes describe a request for authorization.
type Attributes struct {
	User                                                                     *User
	Verb, Namespace, APIGroup, APIVersion, Resource, Subresource, Name, Path string
	ResourceRequest                                                          bool
}

// Decision is an authorizer's answer.
type Decision int

const (
	DecisionDeny Decision = iota
	DecisionAllow
	DecisionNoOpinion
)

// Authorizer decides whether a request may proceed. RBAC will be one.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (Decision, string, error)
}

// AlwaysAllow allows every authenticated request.
type AlwaysAllow struct{}

func (AlwaysAllow) Authorize(context.Context, Attributes) (Decision, string, error) {
	return DecisionAllow, "", nil
}

// UnionAuthorizer asks each authorizer in turn; the first Allow or Deny
// decides, and no opinion from all of them denies.
func UnionAuthorizer(as ...Authorizer) Authorizer { return unionAuthz(as) }

type unionAuthz []Authorizer

func (u unionAuthz) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	for _, z := range u {
		d, reason, err := z.Authorize(ctx, a)
		if err != nil {
			return DecisionDeny, reason, err
		}
		if d != DecisionNoOpinion {
			return d, reason, nil
		}
	}
	return DecisionDeny, "no authorizer allowed the request", nil
}
