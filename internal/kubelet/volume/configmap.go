package volume

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// defaultFileMode is the mode of projected files when no defaultMode is set.
const defaultFileMode = 0o644

// notFound is the error a missing referenced object gives; its message is
// the one upstream's kubelet shows (`configmap "x" not found`) and it
// still satisfies apierrors.IsNotFound.
func notFound(kind, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: kind}, name)
}

func (m *Manager) getConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	cm, err := m.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, notFound("configmap", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %s/%s: %w", ns, name, err)
	}
	return cm, nil
}

func (m *Manager) getSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	s, err := m.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, notFound("secret", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s/%s: %w", ns, name, err)
	}
	return s, nil
}

func (m *Manager) configMapPayload(ctx context.Context, ns string, src *corev1.ConfigMapVolumeSource) (map[string]fileProjection, error) {
	payload := map[string]fileProjection{}
	err := m.addConfigMap(ctx, payload, ns, src.Name, src.Items, isTrue(src.Optional), fileMode(src.DefaultMode))
	return payload, err
}

func (m *Manager) secretPayload(ctx context.Context, ns string, src *corev1.SecretVolumeSource) (map[string]fileProjection, error) {
	payload := map[string]fileProjection{}
	err := m.addSecret(ctx, payload, ns, src.SecretName, src.Items, isTrue(src.Optional), fileMode(src.DefaultMode))
	return payload, err
}

// addConfigMap adds a configMap's keys (data and binaryData) to payload.
// A missing optional configMap adds nothing.
func (m *Manager) addConfigMap(ctx context.Context, payload map[string]fileProjection, ns, name string,
	items []corev1.KeyToPath, optional bool, mode os.FileMode) error {
	if name == "" {
		return fmt.Errorf("configmap name is empty")
	}
	cm, err := m.getConfigMap(ctx, ns, name)
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return addKeys(payload, data, items, optional, mode, "configmap references non-existent config key: %s")
}

// addSecret adds a secret's keys to payload; a missing optional secret adds nothing.
func (m *Manager) addSecret(ctx context.Context, payload map[string]fileProjection, ns, name string,
	items []corev1.KeyToPath, optional bool, mode os.FileMode) error {
	if name == "" {
		return fmt.Errorf("secret name is empty")
	}
	s, err := m.getSecret(ctx, ns, name)
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return addKeys(payload, s.Data, items, optional, mode, "references non-existent secret key: %s")
}

// addKeys projects data into payload: every key under its own name, or
// only the listed items under their paths. A listed key that is missing
// is an error unless the source is optional. missingFmt takes the key.
func addKeys(payload map[string]fileProjection, data map[string][]byte, items []corev1.KeyToPath,
	optional bool, mode os.FileMode, missingFmt string) error {
	if len(items) == 0 {
		for k, v := range data {
			if err := addFile(payload, k, v, mode); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf(missingFmt, it.Key)
		}
		itemMode := mode
		if it.Mode != nil {
			itemMode = os.FileMode(*it.Mode)
			if *it.Mode < 0 || *it.Mode > 0o777 {
				return fmt.Errorf("invalid mode %#o for key %q: must be between 0 and 0777", *it.Mode, it.Key)
			}
		}
		if err := addFile(payload, it.Path, v, itemMode); err != nil {
			return err
		}
	}
	return nil
}

// addFile adds one file under a checked path; two sources may not claim
// the same path.
func addFile(payload map[string]fileProjection, path string, data []byte, mode os.FileMode) error {
	p, err := cleanItemPath(path)
	if err != nil {
		return err
	}
	if _, dup := payload[p]; dup {
		return fmt.Errorf("conflicting duplicate paths: %q is projected twice", p)
	}
	payload[p] = fileProjection{Data: data, Mode: mode}
	return nil
}

// fileMode is a defaultMode field's value, 0644 when unset. Out-of-range
// modes are caught when the payload is checked.
func fileMode(m *int32) os.FileMode {
	if m == nil {
		return defaultFileMode
	}
	if *m < 0 {
		return os.FileMode(0o7777) // rejected by checkPayload
	}
	return os.FileMode(*m)
}

func isTrue(b *bool) bool { return b != nil && *b }
