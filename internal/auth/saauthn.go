package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ServiceAccountTokenGetter is how the service account authenticator
// checks that the objects a token names still exist. The API server
// supplies it, backed by its storage or caches, so this package stays
// storage-agnostic.
//
// Each method returns the current object, or an error when it cannot (the
// object does not exist, or storage failed); any error makes the token
// fail. Returned objects are shared and are not modified by the caller.
type ServiceAccountTokenGetter interface {
	GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	GetNode(ctx context.Context, name string) (*corev1.Node, error)
}

// tokenLeeway is the clock skew allowed on exp and nbf, and how long a
// token outlives its pod's deletion time, as upstream (go-jose's default
// leeway).
const tokenLeeway = time.Minute

// ServiceAccountAuthenticator authenticates bound service account tokens
// ("Authorization: Bearer <JWT>") issued by Tokens:
//
//   - the signature, exp and nbf (with a minute's leeway) are checked;
//   - at least one audience must be one of the API server's audiences;
//   - the service account must exist with the token's UID and not be
//     being deleted; a bound secret or node must exist with its UID; a
//     bound pod must exist with its UID and not be deleted more than a
//     minute ago (its deletion timestamp, i.e. past its grace period).
//
// A bearer token that is not a JWT, or a JWT of another issuer, is not
// this authenticator's (ok=false, err=nil).
type ServiceAccountAuthenticator struct {
	Tokens *ServiceAccountTokens
	Getter ServiceAccountTokenGetter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ Authenticator = (*ServiceAccountAuthenticator)(nil)

// NewServiceAccountAuthenticator returns the authenticator for tokens,
// checking the objects they name through getter.
func NewServiceAccountAuthenticator(tokens *ServiceAccountTokens, getter ServiceAccountTokenGetter) *ServiceAccountAuthenticator {
	return &ServiceAccountAuthenticator{Tokens: tokens, Getter: getter}
}

func (a *ServiceAccountAuthenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, false, nil
	}
	u, err := a.AuthenticateToken(r.Context(), token)
	switch {
	case errors.Is(err, errNotJWT), errors.Is(err, errOtherIssuer):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("service account token: %w", err)
	}
	return u, true, nil
}

// AuthenticateToken validates token and returns its user.
func (a *ServiceAccountAuthenticator) AuthenticateToken(ctx context.Context, token string) (*User, error) {
	c, err := a.Tokens.verify(token)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if err := checkTimes(c, now); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(c.Audience, func(aud string) bool { return slices.Contains(a.Tokens.audiences, aud) }) {
		return nil, fmt.Errorf("token audiences %q are invalid for the target audiences %q", []string(c.Audience), a.Tokens.audiences)
	}
	k := c.Kubernetes
	if k == nil {
		return nil, errors.New("token has no kubernetes.io claim")
	}
	ns, name, ok := splitServiceAccountUser(c.Subject)
	if !ok || ns != k.Namespace || name != k.ServiceAccount.Name {
		return nil, fmt.Errorf("subject %q does not match the kubernetes.io claim", c.Subject)
	}
	if err := a.checkObjects(ctx, k, now); err != nil {
		return nil, err
	}
	return serviceAccountUser(c), nil
}

func checkTimes(c *ServiceAccountClaims, now time.Time) error {
	if c.Expiry == 0 {
		return errors.New("token has no expiry")
	}
	if now.Add(-tokenLeeway).After(time.Unix(c.Expiry, 0)) {
		return errors.New("token has expired")
	}
	if c.NotBefore != 0 && now.Add(tokenLeeway).Before(time.Unix(c.NotBefore, 0)) {
		return errors.New("token is not valid yet")
	}
	if c.IssuedAt != 0 && now.Add(tokenLeeway).Before(time.Unix(c.IssuedAt, 0)) {
		return errors.New("token was issued in the future")
	}
	return nil
}

// checkObjects looks up the service account and the bound objects.
func (a *ServiceAccountAuthenticator) checkObjects(ctx context.Context, k *KubernetesClaims, now time.Time) error {
	if a.Getter == nil {
		return errors.New("no getter to check the token's objects")
	}
	ns := k.Namespace
	sa, err := a.Getter.GetServiceAccount(ctx, ns, k.ServiceAccount.Name)
	if err != nil {
		return fmt.Errorf("service account %s/%s: %w", ns, k.ServiceAccount.Name, err)
	}
	if err := sameUID("service account", ns+"/"+sa.Name, sa.UID, k.ServiceAccount.UID); err != nil {
		return err
	}
	if sa.DeletionTimestamp != nil {
		return fmt.Errorf("service account %s/%s is being deleted", ns, sa.Name)
	}
	switch {
	case k.Pod != nil:
		pod, err := a.Getter.GetPod(ctx, ns, k.Pod.Name)
		if err != nil {
			return fmt.Errorf("bound pod %s/%s: %w", ns, k.Pod.Name, err)
		}
		if err := sameUID("pod", ns+"/"+pod.Name, pod.UID, k.Pod.UID); err != nil {
			return err
		}
		if pod.DeletionTimestamp != nil && pod.DeletionTimestamp.Time.Before(now.Add(-tokenLeeway)) {
			return fmt.Errorf("bound pod %s/%s has been deleted", ns, pod.Name)
		}
		// A pod-bound token's node claim is informational: the node is
		// not looked up (a node re-registering does not void its pods'
		// tokens).
	case k.Secret != nil:
		secret, err := a.Getter.GetSecret(ctx, ns, k.Secret.Name)
		if err != nil {
			return fmt.Errorf("bound secret %s/%s: %w", ns, k.Secret.Name, err)
		}
		if err := sameUID("secret", ns+"/"+secret.Name, secret.UID, k.Secret.UID); err != nil {
			return err
		}
		if secret.DeletionTimestamp != nil && secret.DeletionTimestamp.Time.Before(now.Add(-tokenLeeway)) {
			return fmt.Errorf("bound secret %s/%s has been deleted", ns, secret.Name)
		}
	case k.Node != nil:
		node, err := a.Getter.GetNode(ctx, k.Node.Name)
		if err != nil {
			return fmt.Errorf("bound node %s: %w", k.Node.Name, err)
		}
		if err := sameUID("node", node.Name, node.UID, k.Node.UID); err != nil {
			return err
		}
		if node.DeletionTimestamp != nil && node.DeletionTimestamp.Time.Before(now.Add(-tokenLeeway)) {
			return fmt.Errorf("bound node %s has been deleted", node.Name)
		}
	}
	return nil
}

// sameUID: the token's UID, when it carries one, must be the object's.
func sameUID(kind, name string, have types.UID, want string) error {
	if want != "" && string(have) != want {
		return fmt.Errorf("%s %s has UID %s, the token names %s (deleted and recreated?)", kind, name, have, want)
	}
	return nil
}

// serviceAccountUser is the identity a valid token carries.
func serviceAccountUser(c *ServiceAccountClaims) *User {
	k := c.Kubernetes
	u := &User{
		Name:   ServiceAccountUser(k.Namespace, k.ServiceAccount.Name),
		UID:    k.ServiceAccount.UID,
		Groups: []string{GroupServiceAccounts, GroupServiceAccounts + ":" + k.Namespace, GroupAuthenticated},
		Extra:  map[string][]string{},
	}
	if k.Pod != nil {
		u.Extra[ExtraPodName] = []string{k.Pod.Name}
		u.Extra[ExtraPodUID] = []string{k.Pod.UID}
	}
	if k.Node != nil {
		u.Extra[ExtraNodeName] = []string{k.Node.Name}
		if k.Node.UID != "" {
			u.Extra[ExtraNodeUID] = []string{k.Node.UID}
		}
	}
	if c.ID != "" {
		u.Extra[ExtraCredentialID] = []string{"JTI=" + c.ID}
	}
	return u
}
