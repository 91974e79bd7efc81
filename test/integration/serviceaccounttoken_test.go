package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/test/framework"
)

// bearerClient is a JSON clientset that authenticates with token only.
func bearerClient(t *testing.T, s *framework.Server, token string) kubernetes.Interface {
	t.Helper()
	admin := s.RestConfig(t)
	cfg := &rest.Config{Host: admin.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// jwtClaims decodes a JWT's payload without checking it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(data, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestServiceAccountToken: a TokenRequest bound to a pod returns a token
// that authenticates as the service account until the pod is deleted.
func TestServiceAccountToken(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	sas := cs.CoreV1().ServiceAccounts("default")
	sa, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := testPod("robot-pod")
	pod.Spec.ServiceAccountName = "robot"
	if pod, err = cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The kubelet's request: bound to the pod, through protobuf.
	before := time.Now()
	tr, err := sas.CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status.Token == "" || strings.Count(tr.Status.Token, ".") != 2 {
		t.Fatalf("token = %q", tr.Status.Token)
	}
	if exp := tr.Status.ExpirationTimestamp.Time; exp.Before(before.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("expirationTimestamp = %v, want an hour from now", exp)
	}
	if tr.Spec.ExpirationSeconds == nil || *tr.Spec.ExpirationSeconds != 3600 ||
		len(tr.Spec.Audiences) != 1 || tr.Spec.Audiences[0] != "https://kubernetes.default.svc.cluster.local" {
		t.Errorf("spec not defaulted: %+v", tr.Spec)
	}

	// The kubelet's default 3607s: issued for a year with warnafter at
	// the asked-for time, which is what the response reports.
	kubeletExp := int64(3607)
	long, err := sas.CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &kubeletExp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(long.Status.ExpirationTimestamp.Time); d < time.Hour || d > time.Hour+10*time.Second {
		t.Errorf("3607s token: expirationTimestamp in %v", d)
	}
	claims := jwtClaims(t, long.Status.Token)
	if exp := time.Unix(int64(claims["exp"].(float64)), 0); time.Until(exp) < 364*24*time.Hour {
		t.Errorf("3607s token: exp %v, want a year", exp)
	}
	k8s := claims["kubernetes.io"].(map[string]any)
	if k8s["warnafter"] == nil || k8s["pod"].(map[string]any)["uid"] != string(pod.UID) ||
		k8s["serviceaccount"].(map[string]any)["uid"] != string(sa.UID) || claims["sub"] != "system:serviceaccount:default:robot" {
		t.Errorf("3607s token claims = %v", claims)
	}

	// The token works against the API; an invalid one is 401.
	robot := bearerClient(t, s, tr.Status.Token)
	if _, err := robot.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list pods with the service account token: %v", err)
	}
	if _, err := robot.Discovery().ServerGroups(); err != nil {
		t.Fatalf("discovery with the service account token: %v", err)
	}
	bad := tr.Status.Token[:len(tr.Status.Token)-4] + "AAAA"
	if _, err := bearerClient(t, s, bad).CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("bad signature: err = %v, want 401", err)
	}

	// A token for another audience does not authenticate to the API.
	vault, err := sas.CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences: []string{"vault"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bearerClient(t, s, vault.Status.Token).CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("audience vault: err = %v, want 401", err)
	}

	// Deleting the bound pod voids the token.
	zero := int64(0)
	if err := cs.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the token of a deleted pod to be refused", func() bool {
		_, err := robot.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return apierrors.IsUnauthorized(err)
	})

	// `kubectl create token robot`: unbound, lives until the account goes.
	plain, err := sas.CreateToken(ctx, "robot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plainClient := bearerClient(t, s, plain.Status.Token)
	if _, err := plainClient.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("unbound token: %v", err)
	}
	if err := sas.Delete(ctx, "robot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := plainClient.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("token of a recreated service account (old uid %s): err = %v, want 401", sa.UID, err)
	}
}

// TestServiceAccountTokenRequestErrors: upstream's answers to bad
// TokenRequests.
func TestServiceAccountTokenRequestErrors(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	sas := cs.CoreV1().ServiceAccounts("default")
	if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := testPod("other-sa")
	pod.Spec.ServiceAccountName = "default"
	pod, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	short := int64(599)
	cases := []struct {
		name, sa string
		spec     authenticationv1.TokenRequestSpec
		check    func(error) bool
	}{
		{"no such service account", "ghost", authenticationv1.TokenRequestSpec{}, apierrors.IsNotFound},
		{"expiration under 10 minutes", "robot", authenticationv1.TokenRequestSpec{ExpirationSeconds: &short}, apierrors.IsInvalid},
		{"bound to a ConfigMap", "robot", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{
			Kind: "ConfigMap", APIVersion: "v1", Name: "x"}}, apierrors.IsBadRequest},
		{"bound pod missing", "robot", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: "ghost"}}, apierrors.IsNotFound},
		{"bound pod uid differs", "default", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: types.UID("not-" + string(pod.UID))}}, apierrors.IsConflict},
		{"bound pod runs as another service account", "robot", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: pod.Name}}, apierrors.IsBadRequest},
	}
	if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, tc := range cases {
		_, err := sas.CreateToken(ctx, tc.sa, &authenticationv1.TokenRequest{Spec: tc.spec}, metav1.CreateOptions{})
		if !tc.check(err) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}

	// JSON, as kubectl sends it; GET is not allowed.
	raw := newRaw(t, s)
	code, body, _ := raw.do(http.MethodPost, "/api/v1/namespaces/default/serviceaccounts/robot/token", "application/json",
		[]byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}`))
	if code != http.StatusCreated {
		t.Fatalf("JSON TokenRequest: HTTP %d: %s", code, body)
	}
	var tr authenticationv1.TokenRequest
	if err := json.Unmarshal(body, &tr); err != nil || tr.Kind != "TokenRequest" || tr.APIVersion != "authentication.k8s.io/v1" || tr.Status.Token == "" {
		t.Fatalf("response %s (%v)", body, err)
	}
	code, body, _ = raw.do(http.MethodGet, "/api/v1/namespaces/default/serviceaccounts/robot/token", "", nil)
	if code != http.StatusMethodNotAllowed {
		t.Errorf("GET token: HTTP %d: %s", code, body)
	}

	// `kubectl create token`, bound to a pod as kubectl spells it.
	bound := testPod("robot-pod")
	bound.Spec.ServiceAccountName = "robot"
	if _, err := cs.CoreV1().Pods("default").Create(ctx, bound, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, kubectlPath(t), "--kubeconfig", s.Kubeconfig, "create", "token", "robot",
		"--duration", "15m", "--bound-object-kind", "Pod", "--bound-object-name", "robot-pod").Output()
	if err != nil {
		t.Fatalf("kubectl create token: %v: %s", err, out)
	}
	token := strings.TrimSpace(string(out))
	if _, err := bearerClient(t, s, token).CoreV1().ServiceAccounts("default").Get(ctx, "robot", metav1.GetOptions{}); err != nil {
		t.Fatalf("the token kubectl printed: %v", err)
	}

	// Discovery lists the subresource as upstream does.
	res, err := cs.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range res.APIResources {
		if r.Name == "serviceaccounts/token" {
			found = true
			if r.Kind != "TokenRequest" || r.Group != "authentication.k8s.io" || r.Version != "v1" || len(r.Verbs) != 1 || r.Verbs[0] != "create" || !r.Namespaced {
				t.Errorf("serviceaccounts/token discovery = %+v", r)
			}
		}
	}
	if !found {
		t.Error("serviceaccounts/token is not in /api/v1")
	}
}
