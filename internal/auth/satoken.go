package auth

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
)

// Service account identities, as Kubernetes spells them.
const (
	// ServiceAccountUserPrefix + "<namespace>:<name>" is a service
	// account's user name (and its tokens' subject).
	ServiceAccountUserPrefix = "system:serviceaccount:"
	// Every service account is in GroupServiceAccounts and in
	// GroupServiceAccounts + ":<namespace>".
	GroupServiceAccounts = "system:serviceaccounts"

	// DefaultServiceAccountIssuer is the iss of tokens and, as upstream
	// when --api-audiences is not given, the API server's one audience.
	DefaultServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

	// Keys of User.Extra for service account tokens.
	ExtraPodName      = "authentication.kubernetes.io/pod-name"
	ExtraPodUID       = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName     = "authentication.kubernetes.io/node-name"
	ExtraNodeUID      = "authentication.kubernetes.io/node-uid"
	ExtraCredentialID = "authentication.kubernetes.io/credential-id"
)

// ServiceAccountUser is the user name of service account ns/name.
func ServiceAccountUser(namespace, name string) string {
	return ServiceAccountUserPrefix + namespace + ":" + name
}

// splitServiceAccountUser is ServiceAccountUser's inverse.
func splitServiceAccountUser(user string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, ServiceAccountUserPrefix)
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok && namespace != "" && name != "" && !strings.Contains(name, ":")
}

// ServiceAccountClaims are the claims of a bound service account token:
// the registered JWT claims and Kubernetes' private "kubernetes.io" claim.
// Times are Unix seconds.
type ServiceAccountClaims struct {
	Issuer     string            `json:"iss"`
	Subject    string            `json:"sub"`
	Audience   audiences         `json:"aud"`
	Expiry     int64             `json:"exp"`
	IssuedAt   int64             `json:"iat"`
	NotBefore  int64             `json:"nbf"`
	ID         string            `json:"jti,omitempty"`
	Kubernetes *KubernetesClaims `json:"kubernetes.io,omitempty"`
}

// KubernetesClaims is the "kubernetes.io" claim: the service account and
// the object the token is bound to (a pod, which may name its node, a
// secret, or a node). WarnAfter, set on tokens whose lifetime the server
// extended, is when a client should already have replaced the token.
type KubernetesClaims struct {
	Namespace      string     `json:"namespace"`
	ServiceAccount ObjectRef  `json:"serviceaccount"`
	Pod            *ObjectRef `json:"pod,omitempty"`
	Secret         *ObjectRef `json:"secret,omitempty"`
	Node           *ObjectRef `json:"node,omitempty"`
	WarnAfter      *int64     `json:"warnafter,omitempty"`
}

// ObjectRef names an object a token is about.
type ObjectRef struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// audiences is the aud claim: written as an array, read as an array or a
// single string (RFC 7519 allows both).
type audiences []string

func (a *audiences) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*a = audiences{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return errors.New("aud is neither a string nor a list of strings")
	}
	*a = many
	return nil
}

// TokenSpec is what a token is issued for: the service account, its
// audiences, how long it lives, and what it is bound to (at most one of
// Pod, Secret; Node alone or as the pod's node).
type TokenSpec struct {
	Namespace, Name, UID string
	Audiences            []string
	// Expiration is the token's lifetime from now; must be positive.
	Expiration time.Duration
	// WarnAfter, if not zero, is put in the warnafter claim.
	WarnAfter         time.Time
	Pod, Secret, Node *ObjectRef
}

// ServiceAccountTokens signs and verifies service account tokens with one
// key for one issuer. It is immutable and safe for concurrent use.
type ServiceAccountTokens struct {
	key       crypto.Signer
	alg, kid  string
	issuer    string
	audiences []string
}

// NewServiceAccountTokens returns the signer and verifier for key. An
// empty issuer is DefaultServiceAccountIssuer; empty apiAudiences (the
// audiences the API server accepts and gives tokens by default) are
// [issuer], as upstream.
func NewServiceAccountTokens(key crypto.Signer, issuer string, apiAudiences []string) (*ServiceAccountTokens, error) {
	if key == nil {
		return nil, errors.New("service account tokens need a signing key")
	}
	alg, err := signingAlgorithm(key)
	if err != nil {
		return nil, err
	}
	kid, err := keyID(key.Public())
	if err != nil {
		return nil, err
	}
	if issuer == "" {
		issuer = DefaultServiceAccountIssuer
	}
	if len(apiAudiences) == 0 {
		apiAudiences = []string{issuer}
	}
	return &ServiceAccountTokens{key: key, alg: alg, kid: kid, issuer: issuer, audiences: slices.Clone(apiAudiences)}, nil
}

// Issuer is the iss of the tokens.
func (t *ServiceAccountTokens) Issuer() string { return t.issuer }

// APIAudiences returns the API server's audiences; the caller owns the
// slice.
func (t *ServiceAccountTokens) APIAudiences() []string { return slices.Clone(t.audiences) }

// Issue signs a token for spec, issued at now. It returns the token and
// its claims.
func (t *ServiceAccountTokens) Issue(now time.Time, spec TokenSpec) (string, *ServiceAccountClaims, error) {
	if spec.Namespace == "" || spec.Name == "" {
		return "", nil, errors.New("a token needs a service account namespace and name")
	}
	if spec.Expiration <= 0 {
		return "", nil, fmt.Errorf("token expiration %s is not positive", spec.Expiration)
	}
	if len(spec.Audiences) == 0 {
		return "", nil, errors.New("a token needs at least one audience")
	}
	if spec.Pod != nil && spec.Secret != nil {
		return "", nil, errors.New("a token is bound to a pod or a secret, not both")
	}
	c := &ServiceAccountClaims{
		Issuer:    t.issuer,
		Subject:   ServiceAccountUser(spec.Namespace, spec.Name),
		Audience:  slices.Clone(spec.Audiences),
		IssuedAt:  now.Unix(),
		NotBefore: now.Unix(),
		Expiry:    now.Add(spec.Expiration).Unix(),
		ID:        string(uuid.NewUUID()),
		Kubernetes: &KubernetesClaims{
			Namespace:      spec.Namespace,
			ServiceAccount: ObjectRef{Name: spec.Name, UID: spec.UID},
			Pod:            cloneRef(spec.Pod),
			Secret:         cloneRef(spec.Secret),
			Node:           cloneRef(spec.Node),
		},
	}
	if !spec.WarnAfter.IsZero() {
		w := spec.WarnAfter.Unix()
		c.Kubernetes.WarnAfter = &w
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", nil, err
	}
	token, err := signJWS(t.key, t.alg, t.kid, payload)
	if err != nil {
		return "", nil, err
	}
	return token, c, nil
}

func cloneRef(r *ObjectRef) *ObjectRef {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// errOtherIssuer: a well-formed JWT that this issuer did not sign (some
// other authenticator's token).
var errOtherIssuer = errors.New("JWT from another issuer")

// verify checks a token's signature and returns its claims; nothing
// about time, audience or the objects it names is checked. A token that
// is not a JWT is errNotJWT; one that claims another issuer is
// errOtherIssuer.
func (t *ServiceAccountTokens) verify(token string) (*ServiceAccountClaims, error) {
	jws, err := parseJWS(token)
	if err != nil {
		return nil, err
	}
	var c ServiceAccountClaims
	if err := json.Unmarshal(jws.payload, &c); err != nil {
		return nil, fmt.Errorf("JWT claims: %w", err)
	}
	if c.Issuer != t.issuer {
		return nil, errOtherIssuer
	}
	if err := jws.verify(t.key.Public(), t.alg); err != nil {
		return nil, err
	}
	return &c, nil
}
