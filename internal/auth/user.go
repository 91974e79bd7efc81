package auth

import (
	"context"
	"slices"
)

// Well-known user and group names, as Kubernetes spells them.
const (
	// AdminUser in GroupMasters is the identity of the admin kubeconfig.
	AdminUser    = "system:admin"
	GroupMasters = "system:masters"

	// Nodes authenticate as NodeUser(name) in GroupNodes.
	NodeUserPrefix = "system:node:"
	GroupNodes     = "system:nodes"

	// A join token authenticates as BootstrapUserPrefix+<token id> in
	// GroupBootstrappers and GroupDefaultNodeToken.
	BootstrapUserPrefix   = "system:bootstrap:"
	GroupBootstrappers    = "system:bootstrappers"
	GroupDefaultNodeToken = "system:bootstrappers:skiff:default-node-token"

	// Every authenticated user is in GroupAuthenticated; requests without
	// credentials are AnonymousUser in GroupUnauthenticated.
	GroupAuthenticated   = "system:authenticated"
	AnonymousUser        = "system:anonymous"
	GroupUnauthenticated = "system:unauthenticated"
)

// User is an authenticated identity, as Kubernetes' user.Info.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// NodeUser is the user name of the kubelet on node nodeName.
func NodeUser(nodeName string) string { return NodeUserPrefix + nodeName }

// InGroup reports whether u is in group.
func (u *User) InGroup(group string) bool { return u != nil && slices.Contains(u.Groups, group) }

// clone returns a deep copy, so a stored identity is never shared with
// (and mutated by) the request that authenticated as it.
func (u *User) clone() *User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	if u.Extra != nil {
		c.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return &c
}

// withGroup returns groups with group appended unless already present.
func withGroup(groups []string, group string) []string {
	if slices.Contains(groups, group) {
		return groups
	}
	return append(groups, group)
}

type userKey struct{}

// WithUser returns a context carrying u, the request's authenticated user.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user stored by WithUser; ok is false if there is
// none.
func UserFrom(ctx context.Context) (u *User, ok bool) {
	u, ok = ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}
