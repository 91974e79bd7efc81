package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/storage"
)

// The serviceaccounts/token subresource (TokenRequest) and the getter the
// service account authenticator checks tokens' objects with.

var tokenRequestGVK = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

const (
	// defaultTokenExpirationSeconds, minTokenExpirationSeconds and
	// maxTokenExpirationSeconds bound spec.expirationSeconds as upstream's
	// defaulting and validation do.
	defaultTokenExpirationSeconds = 3600
	minTokenExpirationSeconds     = 10 * 60
	maxTokenExpirationSeconds     = 1 << 32
	// warnOnlyTokenExpirationSeconds is what the kubelet asks for by
	// default; such pod-bound tokens for the API server are issued for
	// extendedTokenExpiration instead, with warnafter at the asked-for
	// time, as upstream's --service-account-extend-token-expiration
	// (default true) does, so that pods whose clients do not reload
	// tokens keep working while their use is flagged.
	warnOnlyTokenExpirationSeconds = 3607
	extendedTokenExpiration        = 365 * 24 * time.Hour
)

// useServiceAccountTokens adds the service account authenticator, backed
// by this server's storage, after the configured authenticators.
func (s *Server) useServiceAccountTokens() {
	if s.cfg.ServiceAccountTokens == nil || s.cfg.Authenticator == nil {
		return
	}
	sa := auth.NewServiceAccountAuthenticator(s.cfg.ServiceAccountTokens, storedTokenObjects{s})
	sa.Now = func() time.Time { return s.now() }
	s.cfg.Authenticator = auth.Union(s.cfg.Authenticator, sa)
}

// serveTokenRequest issues a token for service account ns/name
// (POST .../serviceaccounts/<name>/token, what `kubectl create token` and
// the kubelet's projected volumes call).
func (s *Server) serveTokenRequest(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, methodNotAllowed(r.Method, "serviceaccounts/token"))
		return
	}
	tokens := s.cfg.ServiceAccountTokens
	if tokens == nil {
		s.writeError(w, r, apierrors.NewServiceUnavailable("service account token issuing is not configured"))
		return
	}
	o, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, warnings, err := s.decodeInto(data, requestMediaType(r), tokenRequestGVK, &authenticationv1.TokenRequest{}, o.fieldValidation)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req := obj.(*authenticationv1.TokenRequest)
	out, err := s.issueToken(ctx, ep, tokens, ns, name, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	s.writeObject(w, r, http.StatusCreated, out)
}

// issueToken validates req for service account ns/name, resolves what it
// binds to and signs the token. req is modified and returned.
func (s *Server) issueToken(ctx context.Context, ep *endpoint, tokens *auth.ServiceAccountTokens, ns, name string,
	req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if req.Namespace != "" && req.Namespace != ns {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the TokenRequest (%s) does not match the namespace in the URL (%s)", req.Namespace, ns))
	}
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the TokenRequest (%s) does not match the service account (%s)", req.Name, name))
	}
	req.Namespace, req.Name = ns, name
	sa := &corev1.ServiceAccount{}
	if err := ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, sa); err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), name)
	}
	if req.Spec.ExpirationSeconds == nil {
		req.Spec.ExpirationSeconds = new(int64)
		*req.Spec.ExpirationSeconds = defaultTokenExpirationSeconds
	}
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = tokens.APIAudiences()
	}
	if errs := validateTokenRequest(req); len(errs) > 0 {
		return nil, apierrors.NewInvalid(tokenRequestGVK.GroupKind(), name, errs)
	}
	now := s.now()
	spec := auth.TokenSpec{Namespace: ns, Name: name, UID: string(sa.UID), Audiences: req.Spec.Audiences,
		Expiration: time.Duration(*req.Spec.ExpirationSeconds) * time.Second}
	var pod *corev1.Pod
	if ref := req.Spec.BoundObjectRef; ref != nil {
		bound, err := s.boundObject(ctx, ns, ref)
		if err != nil {
			return nil, err
		}
		objRef := &auth.ObjectRef{Name: bound.GetName(), UID: string(bound.GetUID())}
		ref.UID = bound.GetUID()
		switch b := bound.(type) {
		case *corev1.Pod:
			if b.Spec.ServiceAccountName != name {
				return nil, apierrors.NewBadRequest(fmt.Sprintf(
					"cannot bind token for serviceaccount %q to pod running with different serviceaccount name", name))
			}
			pod, spec.Pod = b, objRef
			spec.Node = s.podNode(ctx, b)
		case *corev1.Secret:
			spec.Secret = objRef
		case *corev1.Node:
			spec.Node = objRef
		}
	}
	if pod != nil && *req.Spec.ExpirationSeconds == warnOnlyTokenExpirationSeconds && allAPIAudiences(tokens, req.Spec.Audiences) {
		spec.WarnAfter = now.Add(spec.Expiration)
		spec.Expiration = extendedTokenExpiration
	}
	token, _, err := tokens.Issue(now, spec)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	req.Status = authenticationv1.TokenRequestStatus{
		Token: token,
		// As upstream, the time asked for, even where the token was
		// extended: clients should refresh by then.
		ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
	}
	req.SetGroupVersionKind(tokenRequestGVK)
	return req, nil
}

// validateTokenRequest checks spec.expirationSeconds, as upstream.
func validateTokenRequest(req *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "expirationSeconds")
	switch exp := *req.Spec.ExpirationSeconds; {
	case exp < minTokenExpirationSeconds:
		errs = append(errs, field.Invalid(p, exp, "may not specify a duration less than 10 minutes"))
	case exp > maxTokenExpirationSeconds:
		errs = append(errs, field.Invalid(p, exp, "may not specify a duration larger than 2^32 seconds"))
	}
	return errs
}

// boundObject fetches the object a TokenRequest binds to: a Pod or Secret
// in namespace ns, or a Node. A UID in ref must be the object's (409 if
// not: it was deleted and recreated).
func (s *Server) boundObject(ctx context.Context, ns string, ref *authenticationv1.BoundObjectReference) (metav1.Object, error) {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	var resource string
	var obj runtime.Object
	switch {
	case gvk == corev1.SchemeGroupVersion.WithKind("Pod"):
		resource, obj = "pods", &corev1.Pod{}
	case gvk == corev1.SchemeGroupVersion.WithKind("Secret"):
		resource, obj = "secrets", &corev1.Secret{}
	case gvk == corev1.SchemeGroupVersion.WithKind("Node"):
		resource, obj, ns = "nodes", &corev1.Node{}, ""
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk))
	}
	if ref.Name == "" {
		return nil, apierrors.NewInvalid(tokenRequestGVK.GroupKind(), ref.Name, field.ErrorList{
			field.Required(field.NewPath("spec", "boundObjectRef", "name"), "")})
	}
	bep := s.endpoints[corev1.SchemeGroupVersion.WithResource(resource)]
	if err := bep.store.Get(ctx, bep.key(ns, ref.Name), storage.GetOptions{}, obj); err != nil {
		return nil, toAPIError(err, bep.res.GroupResource(), ref.Name)
	}
	m := obj.(metav1.Object)
	if ref.UID != "" && ref.UID != m.GetUID() {
		return nil, apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return m, nil
}

// podNode names the node of a scheduled pod in its token (nil if the pod
// is not scheduled or its node cannot be read: the claim is informative).
func (s *Server) podNode(ctx context.Context, pod *corev1.Pod) *auth.ObjectRef {
	if pod.Spec.NodeName == "" {
		return nil
	}
	nep := s.endpoints[corev1.SchemeGroupVersion.WithResource("nodes")]
	node := &corev1.Node{}
	if err := nep.store.Get(ctx, nep.key("", pod.Spec.NodeName), storage.GetOptions{ResourceVersion: "0"}, node); err != nil {
		s.log.Debug("token for pod: node not found", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName, "err", err)
		return nil
	}
	return &auth.ObjectRef{Name: node.Name, UID: string(node.UID)}
}

func allAPIAudiences(tokens *auth.ServiceAccountTokens, auds []string) bool {
	api := tokens.APIAudiences()
	for _, a := range auds {
		if !slices.Contains(api, a) {
			return false
		}
	}
	return true
}

// storedTokenObjects reads the objects tokens name from storage, at the
// latest revision: a deleted pod's token stops working at once.
type storedTokenObjects struct{ s *Server }

var _ auth.ServiceAccountTokenGetter = storedTokenObjects{}

func (g storedTokenObjects) get(ctx context.Context, resource, ns, name string, into runtime.Object) error {
	ep := g.s.endpoints[corev1.SchemeGroupVersion.WithResource(resource)]
	if ep == nil {
		return fmt.Errorf("%s are not served", resource)
	}
	if err := ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, into); err != nil {
		return toAPIError(err, ep.res.GroupResource(), name)
	}
	return nil
}

func (g storedTokenObjects) GetServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	sa := &corev1.ServiceAccount{}
	return sa, g.get(ctx, "serviceaccounts", ns, name, sa)
}

func (g storedTokenObjects) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	return pod, g.get(ctx, "pods", ns, name, pod)
}

func (g storedTokenObjects) GetSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	return secret, g.get(ctx, "secrets", ns, name, secret)
}

func (g storedTokenObjects) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	node := &corev1.Node{}
	return node, g.get(ctx, "nodes", "", name, node)
}
