package kubelet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// pullResult is the outcome of ensureImage: the image reference to
// create the container from, or why there is none (a waiting reason and
// message) and when to try again.
type pullResult struct {
	imageRef    string
	reason, msg string
	retryAt     time.Time
}

// ensureImage makes the container's image present per its
// imagePullPolicy, with events worded as upstream's (kubectl describe
// shows them): Pulling, Pulled, Failed, BackOff, ErrImageNeverPull.
// Failed pulls back off per pod and image (10s doubling to 5m).
func (k *Kubelet) ensureImage(ctx context.Context, s *startSpec) pullResult {
	pod, c := s.pod, s.container
	ref := containerRef(pod, c)
	if c.Image == "" {
		msg := fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: invalid reference format", c.Image, c.Image)
		k.recorder.Event(ref, corev1.EventTypeWarning, "InspectFailed", msg)
		return pullResult{reason: reasonInvalidImageName, msg: msg}
	}
	spec := &runtimeapi.ImageSpec{Image: c.Image, Annotations: copyStrings(pod.Annotations)}
	st, err := k.images.ImageStatus(ctx, spec, false)
	if err != nil {
		msg := fmt.Sprintf("Failed to inspect image %q: %v", c.Image, err)
		k.recorder.Event(ref, corev1.EventTypeWarning, "InspectFailed", msg)
		return pullResult{reason: reasonImageInspectError, msg: msg}
	}
	present := st.GetImage() != nil
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = defaultPullPolicy(c.Image)
	}
	if policy == corev1.PullNever || policy == corev1.PullIfNotPresent && present {
		if present {
			k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
			return pullResult{imageRef: st.Image.Id}
		}
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		k.recorder.Event(ref, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return pullResult{reason: reasonErrImageNeverPull, msg: msg}
	}

	key := string(pod.UID) + "/image/" + c.Image
	if in, end := k.pullBack.InBackOffSinceUpdate(key); in {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		k.recorder.Event(ref, corev1.EventTypeNormal, "BackOff", msg)
		return pullResult{reason: reasonImagePullBackOff, msg: msg, retryAt: end}
	}
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := k.clock.Now()
	id, err := k.pullImage(ctx, pod, spec, s.sandboxCfg)
	if err != nil {
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		now := k.clock.Now()
		k.pullBack.Next(key, now)
		// Show ErrImagePull for half the backoff, then ImagePullBackOff
		// until it ends, as upstream's slower resyncs make it look.
		_, end := k.pullBack.InBackOffSinceUpdate(key)
		return pullResult{reason: reasonErrImagePull, msg: err.Error(), retryAt: now.Add(end.Sub(now) / 2)}
	}
	k.pullBack.Reset(key)
	took := k.clock.Since(start).Truncate(time.Millisecond)
	var size uint64
	if st, err := k.images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: id}, false); err == nil && st.GetImage() != nil {
		size = st.Image.Size
	}
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Pulled",
		"Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", c.Image, took, took, size)
	return pullResult{imageRef: id}
}

// pullImage pulls with the credentials of the pod's imagePullSecrets that
// match the image's registry, trying each, then anonymously.
func (k *Kubelet) pullImage(ctx context.Context, pod *corev1.Pod, spec *runtimeapi.ImageSpec, sbCfg *runtimeapi.PodSandboxConfig) (string, error) {
	auths := k.pullAuths(ctx, pod, spec.Image)
	var lastErr error
	for _, auth := range append(auths, nil) {
		id, err := k.images.PullImage(ctx, spec, auth, sbCfg)
		if err == nil {
			return id, nil
		}
		lastErr = err
	}
	return "", lastErr
}

// dockerConfig is the content of a kubernetes.io/dockerconfigjson secret.
type dockerConfig struct {
	Auths map[string]struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	} `json:"auths"`
}

// pullAuths collects the credentials for image's registry from the pod's
// imagePullSecrets (unreadable secrets are skipped, as upstream).
func (k *Kubelet) pullAuths(ctx context.Context, pod *corev1.Pod, image string) []*runtimeapi.AuthConfig {
	registry := registryOf(image)
	var out []*runtimeapi.AuthConfig
	for _, ref := range pod.Spec.ImagePullSecrets {
		sec, err := k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		var cfg dockerConfig
		switch sec.Type {
		case corev1.SecretTypeDockerConfigJson:
			_ = json.Unmarshal(sec.Data[corev1.DockerConfigJsonKey], &cfg)
		case corev1.SecretTypeDockercfg:
			_ = json.Unmarshal(sec.Data[corev1.DockerConfigKey], &cfg.Auths)
		}
		for server, a := range cfg.Auths {
			if registryOf(strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")+"/x") != registry {
				continue
			}
			auth := &runtimeapi.AuthConfig{Username: a.Username, Password: a.Password, Auth: a.Auth, ServerAddress: server}
			if auth.Username == "" && a.Auth != "" {
				if raw, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
					auth.Username, auth.Password, _ = strings.Cut(string(raw), ":")
				}
			}
			out = append(out, auth)
		}
	}
	return out
}

// registryOf is the registry host of an image reference (docker.io for
// Docker Hub names).
func registryOf(image string) string {
	first, _, hasSlash := strings.Cut(image, "/")
	if !hasSlash || !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io"
	}
	if first == "index.docker.io" || first == "registry-1.docker.io" {
		return "docker.io"
	}
	return first
}

// defaultPullPolicy is Always for :latest or untagged images, else
// IfNotPresent (the API server normally sets it).
func defaultPullPolicy(image string) corev1.PullPolicy {
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || i < strings.LastIndex(image, "/") || image[i+1:] == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}
