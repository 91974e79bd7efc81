package kubelet

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// objectCache fetches each ConfigMap and Secret once per container start,
// with the error messages upstream's kubelet shows in the pod's status.
type objectCache struct {
	k       *Kubelet
	ctx     context.Context
	ns      string
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (c *objectCache) configMap(name string) (*corev1.ConfigMap, error) {
	if cm, ok := c.cms[name]; ok {
		return cm, nil
	}
	cm, err := c.k.client.CoreV1().ConfigMaps(c.ns).Get(c.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, notFound("configmap", name)
	}
	if err != nil {
		return nil, err
	}
	if c.cms == nil {
		c.cms = map[string]*corev1.ConfigMap{}
	}
	c.cms[name] = cm
	return cm, nil
}

func (c *objectCache) secret(name string) (*corev1.Secret, error) {
	if s, ok := c.secrets[name]; ok {
		return s, nil
	}
	s, err := c.k.client.CoreV1().Secrets(c.ns).Get(c.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, notFound("secret", name)
	}
	if err != nil {
		return nil, err
	}
	if c.secrets == nil {
		c.secrets = map[string]*corev1.Secret{}
	}
	c.secrets[name] = s
	return s, nil
}

// notFound is a NotFound error worded `configmap "x" not found`.
func notFound(kind, name string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 404, Reason: metav1.StatusReasonNotFound,
		Message: fmt.Sprintf("%s %q not found", kind, name),
	}}
}
