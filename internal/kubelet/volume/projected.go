package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Service account token timing, as upstream: tokens default to an hour
// and are renewed at 80% of their life or after a day, whichever is first.
const (
	defaultTokenExpiration = 3600
	tokenMaxAge            = 24 * time.Hour
)

type cachedToken struct {
	token   string
	issued  time.Time
	expires time.Time
}

func (t cachedToken) fresh(now time.Time) bool {
	if t.token == "" {
		return false
	}
	life := t.expires.Sub(t.issued)
	renewAt := t.issued.Add(life * 8 / 10)
	return now.Before(renewAt) && now.Sub(t.issued) < tokenMaxAge
}

// projectedPayload merges the sources of a projected volume; two sources
// may not write the same path.
func (m *Manager) projectedPayload(ctx context.Context, st *podVolumes, pod *corev1.Pod, v *corev1.Volume) (map[string]fileProjection, error) {
	src := v.Projected
	mode := fileMode(src.DefaultMode)
	payload := map[string]fileProjection{}
	for i, s := range src.Sources {
		var err error
		switch {
		case s.ConfigMap != nil:
			err = m.addConfigMap(ctx, payload, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, isTrue(s.ConfigMap.Optional), mode)
		case s.Secret != nil:
			err = m.addSecret(ctx, payload, pod.Namespace, s.Secret.Name, s.Secret.Items, isTrue(s.Secret.Optional), mode)
		case s.DownwardAPI != nil:
			err = m.addDownwardAPI(ctx, payload, pod, s.DownwardAPI.Items, mode)
		case s.ServiceAccountToken != nil:
			err = m.addToken(ctx, st, payload, pod, v.Name, s.ServiceAccountToken, mode)
		default:
			err = fmt.Errorf("projected source %d: unsupported source type (only configMap, secret, downwardAPI and serviceAccountToken)", i)
		}
		if err != nil {
			return nil, err
		}
	}
	return payload, nil
}

// addToken adds a service account token bound to the pod, from the cache
// while it is fresh. If the API server does not serve TokenRequest (404)
// the file is left out and the problem logged once per volume: the pod
// still runs, as it would with automountServiceAccountToken off.
func (m *Manager) addToken(ctx context.Context, st *podVolumes, payload map[string]fileProjection, pod *corev1.Pod,
	volume string, src *corev1.ServiceAccountTokenProjection, mode os.FileMode) error {
	key := volume + "/" + src.Path
	now := m.clock.Now()
	tok := st.tokens[key]
	if !tok.fresh(now) {
		fresh, err := m.requestToken(ctx, pod, src)
		switch {
		case apierrors.IsNotFound(err) && tok.token == "":
			if !st.warned[key] {
				st.warned[key] = true
				m.log.Error("the API server does not serve the TokenRequest API (serviceaccounts/token): service account token not written",
					"pod", pod.Namespace+"/"+pod.Name, "volume", volume, "path", src.Path, "serviceAccount", serviceAccountName(pod), "err", err)
			}
			return nil
		case err != nil && tok.token == "":
			return err
		case err != nil:
			// Keep the old token while it is still valid; retry next resync.
			m.log.Warn("renewing service account token", "pod", pod.Namespace+"/"+pod.Name, "volume", volume, "err", err)
			if !now.Before(tok.expires) {
				return err
			}
		default:
			tok = fresh
			st.tokens[key] = tok
		}
	}
	return addFile(payload, src.Path, []byte(tok.token), mode)
}

func (m *Manager) requestToken(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) (cachedToken, error) {
	if m.tokens == nil {
		return cachedToken{}, errors.New("no token requester configured")
	}
	exp := int64(defaultTokenExpiration)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef: &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID,
		},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	issued := m.clock.Now()
	resp, err := m.tokens(ctx, pod.Namespace, serviceAccountName(pod), req)
	if err != nil {
		return cachedToken{}, err
	}
	if resp.Status.Token == "" {
		return cachedToken{}, fmt.Errorf("TokenRequest for %s/%s returned an empty token", pod.Namespace, serviceAccountName(pod))
	}
	expires := resp.Status.ExpirationTimestamp.Time
	if expires.IsZero() {
		expires = issued.Add(time.Duration(exp) * time.Second)
	}
	return cachedToken{token: resp.Status.Token, issued: issued, expires: expires}, nil
}

func serviceAccountName(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}
